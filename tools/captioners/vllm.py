"""Captioner on an offline vLLM engine: the GPU throughput path.

Why vLLM: captioning an hour of video is thousands of independent prompts, and vLLM's
continuous batching and paged KV cache turn ``describe_batch`` over many nodes into one
scheduled run, several times faster than padded ``generate`` batches in transformers.
The prompt text is the model's own chat template applied by its HF processor (as vLLM's
offline examples do), and the frames go in ``multi_modal_data`` as PIL images, or as one video
with metadata giving the real frame spacing, so captions match the transformers backend's.

vLLM is an optional extra (``pip install 'videonav[vllm]'``, CUDA wheels) and is imported
only in the constructor; without it this backend raises ``BackendUnavailable`` saying so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from videonav.memory.tree import Provenance
from videonav.tools.captioners.base import Caption, CaptionContext, CaptionRequest, register_captioner
from videonav.tools.captioners.common import (
    chat_messages,
    resolve_model_dir,
    subsample,
    to_pil,
    to_uint8_rgb,
    video_metadata,
)
from videonav.tools.captioners.prompts import PROMPTS_VERSION, render
from videonav.tools.config import CaptionerConfig
from videonav.tools.embed import BackendUnavailable

CONTEXT_CAP = 32768
"""Default context cap: frames + context + caption fit easily, and a 128k-token KV cache would
not fit beside the weights on one GPU (pass ``max_model_len=`` to change it)."""


def default_max_model_len(model_dir: str) -> int | None:
    """``min(CONTEXT_CAP, the model's own limit)``, or ``None`` (vLLM's default) when unknown."""
    import json
    import os

    try:
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return None
    own = (cfg.get("text_config") or {}).get("max_position_embeddings") or cfg.get("max_position_embeddings")
    return min(CONTEXT_CAP, int(own)) if isinstance(own, int) and own > 0 else None


@register_captioner("vllm")
class VLLMCaptioner:
    """``describe_batch`` = one ``LLM.generate`` over every node; ``describe`` is a batch of one."""

    name = "vllm"

    def __init__(self, cfg: CaptionerConfig, *, max_images: int = 16, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.85, seed: int = 0, **engine_kwargs: Any) -> None:
        try:
            import vllm
        except ImportError as e:
            raise BackendUnavailable(f"captioner.backend='vllm' needs vLLM ({e}): `pip install "
                                     "'videonav[vllm]'` on a CUDA machine, or use captioner.backend="
                                     "'transformers'") from None
        self.cfg = cfg
        self.model_dir = resolve_model_dir(cfg.model, self.name)
        self.model_id = str(cfg.model)
        self.prompt_version = f"{cfg.prompt_version}+{PROMPTS_VERSION}"
        self.max_images = max_images
        self._vllm = vllm
        self._template = self._chat_template_owner()
        # Profiling reserves memory for the largest request: cap media per prompt to what we send.
        limits = {"video": 1} if cfg.video_input else {"image": max_images}
        kwargs: dict[str, Any] = {"model": self.model_dir, "dtype": cfg.dtype, "seed": seed,
                                  "limit_mm_per_prompt": limits,
                                  "gpu_memory_utilization": gpu_memory_utilization,
                                  "max_model_len": max_model_len or default_max_model_len(self.model_dir)}
        kwargs.update(engine_kwargs)
        self.llm = vllm.LLM(**kwargs)

    def _chat_template_owner(self) -> Any:
        """The HF processor (or, failing that, tokenizer) whose chat template renders our messages."""
        try:
            from transformers import AutoProcessor, AutoTokenizer
        except ImportError as e:  # pragma: no cover - vllm depends on transformers
            raise BackendUnavailable(f"vLLM captioning needs transformers ({e})") from None
        errors = []
        for loader in (AutoProcessor, AutoTokenizer):
            try:
                owner = loader.from_pretrained(self.model_dir, local_files_only=True)
            except (OSError, ValueError, KeyError, ImportError) as e:
                errors.append(f"{loader.__name__}: {e}")
                continue
            if getattr(owner, "chat_template", None):
                return owner
        raise BackendUnavailable(f"captioner.model={self.cfg.model!r} has no usable chat template "
                                 f"({'; '.join(errors) or 'none shipped'}): use an instruction-tuned VLM")

    def describe(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], prompt: str,
                 context: CaptionContext | None = None) -> Caption:
        req = CaptionRequest(frames=tuple(frames), timestamps=tuple(float(t) for t in timestamps),
                             prompt=prompt, context=context)
        return self.describe_batch([req])[0]

    def engine_input(self, req: CaptionRequest) -> dict[str, Any]:
        """One vLLM prompt dict: chat-templated text + ``multi_modal_data``."""
        video = self.cfg.video_input and bool(req.frames)
        frames, stamps = (list(req.frames), list(req.timestamps)) if video else \
            subsample(req.frames, req.timestamps, self.max_images)
        text = render(req.prompt, req.context, stamps, video=video)
        prompt = self._template.apply_chat_template(chat_messages(text, len(frames), video),
                                                    add_generation_prompt=True, tokenize=False)
        if not frames:  # text only: a parent captioned from its children's captions
            return {"prompt": prompt}
        if video:
            clip = np.stack([to_uint8_rgb(f) for f in frames])
            mm: dict[str, Any] = {"video": (clip, video_metadata(stamps))}
            return {"prompt": prompt, "multi_modal_data": mm,
                    "mm_processor_kwargs": {"do_sample_frames": False}}
        return {"prompt": prompt, "multi_modal_data": {"image": [to_pil(f) for f in frames]}}

    def describe_batch(self, requests: Sequence[CaptionRequest]) -> list[Caption]:
        """All nodes in one ``generate``: vLLM schedules them (``batch_size`` does not limit it)."""
        if not requests:
            return []
        params = self._vllm.SamplingParams(max_tokens=self.cfg.max_new_tokens,
                                           temperature=self.cfg.temperature)
        t0 = time.perf_counter()
        outputs = self.llm.generate([self.engine_input(r) for r in requests], params, use_tqdm=False)
        seconds = (time.perf_counter() - t0) / len(requests)
        prov = Provenance(backend=self.name, model=self.model_id, prompt_version=self.prompt_version)
        captions = []
        for r, out in zip(requests, outputs, strict=True):
            best = out.outputs[0]
            captions.append(Caption(
                text=best.text.strip(), provenance=prov, seconds=seconds,
                frames=len(r.frames) if self.cfg.video_input else min(len(r.frames), self.max_images),
                stats={"prompt_tokens": len(out.prompt_token_ids or ()),
                       "completion_tokens": len(best.token_ids),
                       "finish_reason": best.finish_reason, "batch": len(requests)}))
        return captions
