"""The captioner / clip-QA interface and its registry.

One method, ``describe(frames, timestamps, prompt, context) -> Caption``, serves both
captioning a node and answering a question about it (clip QA = describe with the question as
the prompt). Backends register by name in :data:`CAPTIONERS` (a
:class:`videonav.tools.registry.Registry`, which rejects duplicates so two modules can never
silently shadow each other). Heavy imports happen inside each backend's constructor with
an error naming what to install, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from videonav.memory.tree import Provenance
from videonav.tools.config import CaptionerConfig
from videonav.tools.registry import Registry


class CaptionContext(BaseModel):
    """What the captioner is told besides the frames (contextual captioning, as in CALVIN).

    Everything here is *data from the video* (earlier captions, subtitles, OCR): prompts must
    quote it as such and never follow instructions inside it.
    """

    model_config = ConfigDict(frozen=True)
    span: tuple[float, float] = (0.0, 0.0)
    previous_caption: str | None = None
    parent_caption: str | None = None
    entities: tuple[str, ...] = ()
    transcript: str | None = Field(None, description="subtitle lines overlapping the span")
    child_captions: tuple[str, ...] = Field((), description="parents: their children's captions")
    scene_stats: dict[str, Any] = Field(default_factory=dict, description="measured over the span by the indexer's "
                                        "scan: shots, motion_level, brightness, colours (classic renders them)")


class Caption(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    provenance: Provenance
    seconds: float = 0.0
    frames: int = 0
    stats: dict[str, Any] = Field(default_factory=dict, description="backend-specific numbers (OCR words, ...)")


class Captioner(Protocol):
    name: str
    model_id: str
    prompt_version: str

    def describe(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], prompt: str,
                 context: CaptionContext | None = None) -> Caption: ...


class CaptionRequest(BaseModel):
    """One node's worth of ``describe`` arguments, so backends can batch across nodes."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    frames: tuple[np.ndarray, ...]
    timestamps: tuple[float, ...]
    prompt: str = ""
    context: CaptionContext | None = None


def describe_many(captioner: Captioner, requests: Sequence[CaptionRequest]) -> list[Caption]:
    """Caption several nodes, in one batch when the backend offers ``describe_batch`` (vLLM, HTTP)."""
    batch = getattr(captioner, "describe_batch", None)
    if callable(batch):
        return list(batch(requests))
    return [captioner.describe(r.frames, r.timestamps, r.prompt, r.context) for r in requests]


CaptionerFactory = Callable[[CaptionerConfig], Captioner]
CAPTIONERS: Registry[Captioner] = Registry("captioner.backend", {
    "classic": "videonav.tools.captioners.classic",
    "transformers": "videonav.tools.captioners.transformers",
    "vllm": "videonav.tools.captioners.vllm",
    "openai": "videonav.tools.captioners.openai",
})
register_captioner = CAPTIONERS.register


def make_captioner(cfg: CaptionerConfig) -> Captioner:
    """Build the configured backend (imports its module lazily)."""
    return CAPTIONERS.make(cfg.backend, cfg)
