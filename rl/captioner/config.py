"""Run configs for ``videonav train captioner-sft|captioner-rl`` (YAML in rl/configs/captioner_*.yaml).

Why one schema for both verbs: SCST starts from the SFT output and must see the same frames,
prompt and data split, so the two runs share ``model`` and ``data``; only ``train``/``rl`` differ.
A GPU run is the same file with ``train.device``/``train.dtype``/``train.batch_size`` changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from videonav.rl.captioner.model import CaptionerModelConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    source: Literal["sample", "dataset"] = "sample"
    train_seeds: list[int] = Field(default_factory=lambda: list(range(100, 200)))
    eval_seeds: list[int] = Field(default_factory=lambda: list(range(200, 210)))
    minutes: float = Field(5.0, gt=0, description="sample: length of each generated video")
    per_video: int | None = Field(None, description="sample: first N scenes per video (None = all)")
    annotations: str | None = Field(None, description="dataset: MSR-VTT / VATEX JSON")
    videos: str | None = Field(None, description="dataset: folder of <id>.mp4")
    limit: int | None = None
    frame_jitter: bool = Field(False, description="sample, train split: frames at random points of the scene's "
                               "equal parts (the sprite anywhere on its path), not its first and last frame")


class TrainConfig(_Strict):
    steps: int = Field(300, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(5e-5, gt=0, description="text model")
    vision_lr: float = Field(1e-3, gt=0, description="fresh vision encoder + connector")
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    save_steps: int = Field(100, ge=1)
    log_steps: int = Field(10, ge=1)
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16"] = "float32"
    amp: bool = Field(False, description="bf16 autocast over fp32 weights (CPUs with AVX512-BF16, GPUs)")
    seed: int = 0
    max_new_tokens: int = Field(40, ge=1)
    threads: int | None = Field(None, description="torch CPU threads (None = torch's default)")
    balance_colours: bool = Field(False, description="sft: draw batches with weight 1/(clips of that colour): "
                                  "each bright colour is on ~2% of generated slides, the colour-shape questions "
                                  "ask about exactly those")
    init_text: str | None = Field(None, description="sft: a trained captioner dir whose text model and LM head "
                                  "replace the fresh LM's (a new vision tower under a captioner that already "
                                  "writes the captions); model.text_layers must match it")


class RLConfig(_Strict):
    init: str | None = Field(None, description="SFT model dir to start from (default <sft output>/model)")
    samples: int = Field(4, ge=1, description="sampled captions per clip")
    temperature: float = Field(1.0, gt=0)
    freeze_vision: bool = Field(False, description="keep the vision tower + connector fixed (a shipped attribute "
                                "head then keeps reading the tokens it was trained on)")
    use_head: bool = Field(True, description="when the start model ships an attribute head, the reward scores "
                           "the captions after the head's corrections (what indexing writes)")
    probe_clips: int = Field(0, ge=0, description="every train.save_steps steps (and before the first): mean "
                             "greedy CIDEr-D, after the head, of this many fixed training clips (a less noisy "
                             "trend than one step's two clips; 0 = off)")


class AuxConfig(_Strict):
    """The vision tower's direct signal (rl/captioner/vision_aux.py): a colour/shape head on the pooled
    visual tokens, trained on the generator's ground truth (sample data only)."""

    weight: float = Field(0.0, ge=0, description="aux loss weight during SFT (0 = no head)")
    pretrain_steps: int = Field(0, ge=0, description="vision-only steps (tower + connector + head) before SFT")
    batch_size: int = Field(32, ge=1, description="pretraining clips per step (frames drawn at random each step)")
    lr: float = Field(1e-3, gt=0)
    attr_token_weight: float = Field(1.0, ge=0, description="SFT loss weight of caption tokens that spell a "
                                     "colour or shape word (1 = plain mean cross-entropy)")
    head_threshold: float = Field(0.5, ge=0, le=1, description="saved with the head in the model dir: the "
                                  "probability at which its colour/shape label overrides the caption's")


class CaptionerRunConfig(_Strict):
    model: CaptionerModelConfig = Field(default_factory=CaptionerModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    aux: AuxConfig = Field(default_factory=AuxConfig)
    output: str = "runs/captioner"


def load_captioner_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> CaptionerRunConfig:
    """YAML (or a packaged name like ``captioner_tiny``) + dotted overrides (None values ignored),
    through the one config loader (:func:`videonav.agent.config.load_model`)."""
    from videonav.agent.config import load_model

    if path is not None and not Path(path).is_file():
        packaged = Path(__file__).resolve().parent.parent / "configs" / f"{Path(str(path)).stem}.yaml"
        if not packaged.is_file():
            raise ValueError(f"captioner config {path}: no such file (packaged ones: rl/configs/captioner_*.yaml)")
        path = packaged
    kept = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_model(CaptionerRunConfig, path, kept, what="captioner config")
