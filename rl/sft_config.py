"""Configs of ``videonav train sft`` (and the sections GRPO shares): frozen pydantic, YAML-loadable.

Only what we choose lives here; everything TRL already names (learning rate, batch size, ...)
passes through ``trainer`` verbatim into ``SFTConfig``/``GRPOConfig``, so there is one place
to look a setting up. The CPU-safe values (``bf16=False``, ``use_cpu=True``,
``gradient_checkpointing=False``) are the defaults of that passthrough, because TRL's own
defaults (bf16, checkpointing) fail or crawl on a CPU-only machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from videonav.agent.config import load_model

CPU_TRAINER_DEFAULTS: dict[str, Any] = {
    "bf16": False,
    "use_cpu": True,
    "gradient_checkpointing": False,
    "report_to": "none",
    "logging_steps": 1,
    "save_total_limit": 2,
    "dataloader_num_workers": 0,
    "seed": 0,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSection(_Frozen):
    """Which questions (train side of the split) and where the shared files are."""

    questions: Path = Field(Path("../shared/data/nextqa/val.csv"), description="NExT-QA val.csv")
    captions: Path = Field(Path("../shared/data/nextqa/captions_1fps.zip"), description="1-fps caption zip")
    spans: Path | None = Field(
        Path("../shared/data/nextgqa/gsub_val.json"),
        description="NExT-GQA evidence spans (grounding); None = none",
    )
    limit: int | None = Field(None, ge=1, description="train questions used (seeded sample); None = all")
    seed: int = Field(0, description="sampling seed for `limit`")
    types: list[str] | None = Field(None, description="keep only these NExT-QA question types")
    max_videos: int | None = Field(None, ge=1, description="first keep this many videos (seeded; all their "
                                                           "questions): fewer trees to build")


class ModelSection(_Frozen):
    """The policy to start from, and full fine-tuning vs LoRA."""

    path: str | None = Field(
        None, description="model dir; None = SmolLM2-135M-Instruct (fp32 copy of the GGUF)"
    )
    lora: bool = Field(
        False, description="train LoRA adapters (merged into the saved model) instead of all weights"
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha")
    lora_targets: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], description="LoRA target modules"
    )


class SFTRunConfig(_Frozen):
    """``videonav train sft --config FILE``: trajectories from a teacher, then TRL SFTTrainer."""

    kind: Literal["sft"] = "sft"
    data: DataSection = Field(default_factory=DataSection)
    model: ModelSection = Field(default_factory=ModelSection)
    teacher: Literal["oracle", "reads", "llm"] = Field(
        "oracle", description="who navigates: 'oracle' descends to the evidence leaf; 'reads' takes the action that "
                              "most helps the option scorer toward the truth; 'llm': the planner LLM in `videonav.set`"
    )
    reasoning: bool = Field(
        False,
        description="oracle: a templated sentence before each tool call (off: the "
        "constrained planner scores bare tool calls)",
    )
    hint_attempts: int = Field(
        3, ge=1, description="llm teacher: attempts with deeper hints before giving up"
    )
    videonav_config: Path | None = Field(
        None, description="RunConfig YAML (tree, planner, budget) for episodes"
    )
    videonav_set: list[str] = Field(
        default_factory=list, description="RunConfig overrides, section.key=value"
    )
    output: Path = Field(Path("runs/sft"), description="checkpoints and the final model")
    max_length: int = Field(2048, ge=64, description="tokens per trajectory (longer ones are truncated)")
    trainer: dict[str, Any] = Field(
        default_factory=dict, description="passed to trl.SFTConfig (over CPU defaults)"
    )

    @model_validator(mode="after")
    def _no_clash(self) -> SFTRunConfig:
        clash = {"output_dir", "max_length", "assistant_only_loss"} & set(self.trainer)
        if clash:
            raise ValueError(f"set {sorted(clash)} through the top-level fields, not trainer:")
        return self


def load_run_config(
    cls: type[BaseModel], path: Path | str | None, overrides: dict[str, Any] | None = None
) -> Any:
    """defaults < YAML file < overrides (CLI flags as dotted keys; ``None`` = flag not given).

    The same loader as ``RunConfig``'s (:func:`videonav.agent.config.load_model`)."""
    return load_model(cls, path, overrides, what="training config")
