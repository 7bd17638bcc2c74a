"""The captioner / clip-QA interface and its registry.

One method, ``describe(frames, timestamps, prompt, context) -> Caption``, serves both
captioning a node and answering a question about it (clip QA = describe with the question as
the prompt). Backends register by name; the registry rejects duplicates so two modules can
never silently shadow each other. Heavy imports happen inside each backend's constructor with
an error naming what to install, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from videonav.memory.tree import Provenance
from videonav.tools.config import CaptionerConfig


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
_REGISTRY: dict[str, CaptionerFactory] = {}


def register_captioner(name: str) -> Callable[[CaptionerFactory], CaptionerFactory]:
    def deco(factory: CaptionerFactory) -> CaptionerFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"captioner backend {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory
    return deco


_BUILTIN_MODULES = {
    "classic": "videonav.tools.captioners.classic",
    "transformers": "videonav.tools.captioners.transformers",
    "vllm": "videonav.tools.captioners.vllm",
    "openai": "videonav.tools.captioners.openai",
}


def make_captioner(cfg: CaptionerConfig) -> Captioner:
    """Build the configured backend (imports its module lazily)."""
    import importlib

    if cfg.backend not in _REGISTRY and cfg.backend in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[cfg.backend])
    if cfg.backend not in _REGISTRY:
        raise ValueError(f"captioner.backend={cfg.backend!r} unknown; choose one of {sorted(_BUILTIN_MODULES)}")
    return _REGISTRY[cfg.backend](cfg)
