"""Config of ``videonav train grpo``: the reward mix and the rollout limits, beside TRL's GRPOConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from videonav.rl.sft_config import DataSection, ModelSection, _Frozen


class RewardWeights(_Frozen):
    """Weight of each reward in the sum GRPO turns into advantages (0 = reward not computed)."""

    answer: float = Field(1.0, ge=0, description="the answer action names the correct option")
    reads_answer: float = Field(
        1.0,
        ge=0,
        description="the option scorer picks the right option from what was "
        "read (how `videonav eval` answers)",
    )
    format: float = Field(0.2, ge=0, description="share of assistant turns that are one readable action")
    grounding: float = Field(0.5, ge=0, description="F1 of the union of read spans vs NExT-GQA evidence")
    call_cost: float = Field(1.0, ge=0, description="weight of the per-call cost term")
    per_call: float = Field(0.05, ge=0, description="cost of one expand/inspect/search call")
    repeat: float = Field(0.2, ge=0, description="penalty per verbatim repeated action")


class GRPORunConfig(_Frozen):
    """``videonav train grpo --config FILE``: TRL GRPOTrainer over the navigation environment."""

    kind: Literal["grpo"] = "grpo"
    data: DataSection = Field(default_factory=DataSection)
    model: ModelSection = Field(default_factory=ModelSection)
    rewards: RewardWeights = Field(default_factory=RewardWeights)
    videonav_config: Path | None = Field(
        None, description="RunConfig YAML (tree, planner, budget) for episodes"
    )
    videonav_set: list[str] = Field(
        default_factory=list, description="RunConfig overrides, section.key=value"
    )
    output: Path = Field(Path("runs/grpo"), description="checkpoints and the final model")
    max_tool_calls: int = Field(
        4, ge=1, description="tool-calling turns per rollout (GRPOConfig.max_tool_calling_iterations)"
    )
    use_scorer: bool = Field(True, description="load the option scorer for the reads_answer reward")
    trainer: dict[str, Any] = Field(
        default_factory=lambda: {
            "num_generations": 4,
            "max_completion_length": 256,
            "per_device_train_batch_size": 4,
            "learning_rate": 1e-6,
            "temperature": 1.0,
        },
        description="passed to trl.GRPOConfig (over the CPU defaults)",
    )

    @model_validator(mode="after")
    def _no_clash(self) -> GRPORunConfig:
        clash = {"output_dir", "max_tool_calling_iterations"} & set(self.trainer)
        if clash:
            raise ValueError(f"set {sorted(clash)} through the top-level fields, not trainer:")
        return self
