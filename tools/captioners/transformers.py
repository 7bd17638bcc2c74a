"""Captioner on Hugging Face transformers: any ``AutoModelForImageTextToText`` checkpoint.

Why this backend: it runs every recent open VLM (Qwen2.5-VL, Qwen3-VL, SmolVLM2/Idefics3,
LLaVA-OneVision, LLaVA) with nothing but transformers, on one GPU or (slowly) on CPU, and each
model's own processor and chat template decide how frames become tokens, so the only
model-specific knowledge here is "images or one video". vLLM (``vlm_vllm``) is the
throughput path over the same messages and prompts.

Weights are loaded once, in the constructor, from a local directory or the local HF cache
(``local_files_only=True``); a missing checkpoint is a ``BackendUnavailable`` naming
``captioner.model``, never a silent fallback to another backend.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from videonav.memory.tree import Provenance
from videonav.tools.captioners.attr_head import AttrPredictor, load_predictor
from videonav.tools.captioners.base import Caption, CaptionContext, CaptionRequest, register_captioner
from videonav.tools.captioners.common import chat_messages, resolve_model_dir, to_pil, to_uint8_rgb, video_metadata
from videonav.tools.captioners.ocr_prompt import OcrReader, ocr_user_text, pick_frames, reads_ocr, trained_frames
from videonav.tools.captioners.prompts import PROMPTS_VERSION, render
from videonav.tools.config import CaptionerConfig
from videonav.tools.embed import BackendUnavailable


def pick_device(device: str, torch: Any) -> str:
    """``auto`` = the first CUDA device when there is one (probed here, at construction, not import)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"captioner.device={device!r} but torch sees no CUDA device "
                                 f"(torch {torch.__version__}): set captioner.device='cpu' or 'auto'")
    return device


def pick_dtype(dtype: str, device: str, torch: Any) -> Any:
    """``auto``: the checkpoint's dtype on GPU (usually bf16), float32 on CPU (slow bf16 matmuls there)."""
    if dtype == "auto":
        return "auto" if device.startswith("cuda") else torch.float32
    try:
        value = getattr(torch, dtype)
    except AttributeError:
        value = None
    if not isinstance(value, torch.dtype):
        raise ValueError(f"captioner.dtype={dtype!r} is not a torch dtype: use 'auto', 'bfloat16', 'float16' "
                         "or 'float32'")
    return value


@register_captioner("transformers")
class TransformersCaptioner:
    """``describe`` with a local VLM checkpoint; ``describe_batch`` pads several nodes into one generate."""

    name = "transformers"

    def __init__(self, cfg: CaptionerConfig) -> None:
        self.cfg = cfg
        self.model_dir = resolve_model_dir(cfg.model, self.name)
        self.model_id = str(cfg.model)
        self.prompt_version = f"{cfg.prompt_version}+{PROMPTS_VERSION}"
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as e:
            raise BackendUnavailable(f"captioner.backend='transformers' needs torch and transformers ({e}): "
                                     "`pip install torch transformers`") from None
        self._torch = torch
        self.device = pick_device(cfg.device, torch)
        dtype = pick_dtype(cfg.dtype, self.device, torch)
        try:
            self.processor = AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
            model: Any = AutoModelForImageTextToText.from_pretrained(self.model_dir, dtype=dtype,
                                                                     local_files_only=True)
        except (OSError, ValueError, KeyError, ImportError, AttributeError) as e:
            video = "video" in str(e).lower() or "torchvision" in str(e).lower()
            hint = (" Its processor needs torchvision (Qwen-VL video processors do): install the torchvision "
                    "build matching your torch (CUDA machines), or use a model with PIL-only processors "
                    "(SmolVLM/Idefics3, LLaVA).") if video else ""
            raise BackendUnavailable(
                f"captioner.model={cfg.model!r} could not be loaded as an image-text-to-text model with its "
                f"processor ({type(e).__name__}: {e}). Point captioner.model at a complete VLM checkpoint "
                f"(config, weights, processor and chat template).{hint}") from None
        self.model = model.to(self.device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # decoder-only batching: pad before the prompt
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
        if getattr(self.processor, "chat_template", None) is None:
            raise BackendUnavailable(f"captioner.model={cfg.model!r} has no chat template: use an "
                                     "instruction-tuned checkpoint whose processor ships one")
        # videonav-trained captioners that read OCR (``ocr_prompt``): the same prompt as in training
        self.ocr: OcrReader | None = OcrReader(cfg.ocr_workers) if reads_ocr(self.model_dir) else None
        if self.ocr is not None:
            self.prompt_version += "+ocr1"
        # ... and as many frames per clip as in training (video.frames_per_leaf may give more)
        self.frames_trained = trained_frames(self.model_dir)
        # ... and its colour/shape head, when it ships one: leaf captions then agree with its labels
        try:
            self.attrs: AttrPredictor | None = load_predictor(self.model_dir, self.device)
        except (ValueError, KeyError, RuntimeError) as e:
            raise BackendUnavailable(f"captioner.model={cfg.model!r}: {e}") from None
        if self.attrs is not None:  # a refitted head is a different captioner: stored captions must not be reused
            self.prompt_version += f"+head{self.attrs.threshold:g}-{self.attrs.digest}"
        if cfg.video_input and getattr(self.processor, "video_processor", None) is None:
            raise BackendUnavailable(
                f"captioner.video_input=true but {cfg.model!r}'s processor has no video processor "
                f"({type(self.processor).__name__}): set captioner.video_input=false (frames as images)")

    # -- public API -------------------------------------------------------------------------

    def describe(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], prompt: str,
                 context: CaptionContext | None = None) -> Caption:
        req = CaptionRequest(frames=tuple(frames), timestamps=tuple(float(t) for t in timestamps),
                             prompt=prompt, context=context)
        return self.describe_batch([req])[0]

    def describe_batch(self, requests: Sequence[CaptionRequest]) -> list[Caption]:
        """Caption several nodes in one padded ``generate`` (greedy unless captioner.temperature > 0)."""
        # Text-only requests (parents captioned from their children) cannot share a processor call
        # with image requests, so each kind is batched on its own and the order restored after.
        out: dict[int, Caption] = {}
        size = self.cfg.batch_size
        for has_frames in (True, False):
            idx = [i for i, r in enumerate(requests) if bool(r.frames) == has_frames]
            for j in range(0, len(idx), size):
                chunk = idx[j:j + size]
                out.update(zip(chunk, self._generate([requests[i] for i in chunk]), strict=True))
        return [out[i] for i in range(len(requests))]

    # -- internals --------------------------------------------------------------------------

    def _inputs(self, requests: Sequence[CaptionRequest]) -> Any:
        video = self.cfg.video_input
        if self.frames_trained:
            requests = [r if len(r.frames) <= self.frames_trained or len(r.frames) != len(r.timestamps)
                        else CaptionRequest(
                frames=tuple(r.frames[i] for i in pick_frames(len(r.frames), self.frames_trained)),
                timestamps=tuple(r.timestamps[i] for i in pick_frames(len(r.timestamps), self.frames_trained)),
                prompt=r.prompt, context=r.context) for r in requests]
        texts: list[str] = []
        media: list[Any] = []
        read = [not r.prompt.strip() and bool(r.frames) for r in requests] if self.ocr else [False] * len(requests)
        lines = iter(self.ocr.lines([r.frames for r, g in zip(requests, read, strict=True) if g])
                     if self.ocr and any(read) else [])
        self._ocr_lines: list[list[str]] = []
        for r, ocr in zip(requests, read, strict=True):
            if len(r.frames) != len(r.timestamps):
                raise ValueError(f"{len(r.frames)} frames but {len(r.timestamps)} timestamps")
            got = next(lines) if ocr else []
            self._ocr_lines.append(list(got))
            user = ocr_user_text(got) if ocr else render(r.prompt, r.context, r.timestamps, video=video)
            messages = chat_messages(user, len(r.frames), video and bool(r.frames))
            texts.append(self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                            tokenize=False))
            if not r.frames:
                continue
            if video:
                media.append(np.stack([to_uint8_rgb(f) for f in r.frames]))
            else:
                media.append([to_pil(f) for f in r.frames])
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if not any(r.frames for r in requests):
            pass  # text only
        elif video:
            kwargs.update(videos=media, do_sample_frames=False,
                          video_metadata=[video_metadata(r.timestamps) for r in requests])
        else:
            kwargs["images"] = media
        return self.processor(**kwargs)

    def _generate(self, requests: Sequence[CaptionRequest]) -> list[Caption]:
        torch = self._torch
        t0 = time.perf_counter()
        inputs = self._inputs(requests).to(self.device)
        floating = {k: v.to(self.model.dtype) for k, v in inputs.items()
                    if hasattr(v, "is_floating_point") and v.is_floating_point()}
        inputs.update(floating)
        sample = self.cfg.temperature > 0
        gen: dict[str, Any] = {"max_new_tokens": self.cfg.max_new_tokens, "do_sample": sample}
        if sample:
            gen["temperature"] = self.cfg.temperature
        else:  # silence "temperature is set but do_sample=False" from checkpoints' generation configs
            gen.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            ids = self.model.generate(**inputs, **gen)
        prompt_len = inputs["input_ids"].shape[1]
        new = ids[:, prompt_len:]
        texts = [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]
        attrs = self._attributes(requests, inputs)
        if self.attrs is not None:
            texts = [t if a is None else self.attrs.apply(t, a, lines)
                     for t, a, lines in zip(texts, attrs, self._ocr_lines, strict=True)]
        seconds = (time.perf_counter() - t0) / len(requests)
        pad = getattr(getattr(self.processor, "tokenizer", None), "pad_token_id", None)
        prov = Provenance(backend=self.name, model=self.model_id, prompt_version=self.prompt_version)
        captions = []
        for row, (r, text) in enumerate(zip(requests, texts, strict=True)):
            n_new = int((new[row] != pad).sum()) if pad is not None else int(new.shape[1])
            stats: dict[str, Any] = {"prompt_tokens": int(inputs["attention_mask"][row].sum()),
                                     "completion_tokens": n_new, "batch": len(requests),
                                     "video_input": self.cfg.video_input}
            if attrs[row] is not None:
                a = attrs[row]
                stats["attr_head"] = {"colour": a.colour, "p_colour": round(a.p_colour, 3), "shape": a.shape,
                                      "p_shape": round(a.p_shape, 3)}
            captions.append(Caption(text=text, provenance=prov, seconds=seconds, frames=len(r.frames), stats=stats))
        return captions

    def _attributes(self, requests: Sequence[CaptionRequest], inputs: Any) -> list[Any]:
        """The head's labels per request: leaf captions only (frames, the default caption prompt),
        from the same pixels, hence the same visual tokens, the LM just read."""
        none: list[Any] = [None] * len(requests)
        if self.attrs is None or self.cfg.video_input or "pixel_values" not in inputs:
            return none
        leaf = [bool(r.frames) and not r.prompt.strip() for r in requests]
        if not any(leaf):
            return none
        got = self.attrs.predict(self.model, inputs["pixel_values"], inputs.get("pixel_attention_mask"))
        return [a if ok else None for a, ok in zip(got, leaf, strict=True)]
