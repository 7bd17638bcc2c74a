"""Pieces shared by the VLM captioners: finding local weights, frames to images, chat messages.

Why one module: the transformers and vLLM backends must resolve a model the same way (a local
directory, or a hub id already in the local cache, never a download) and build the same chat
messages, and all three backends must convert frames the same way, so a caption does not change
when only the serving engine does.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from videonav.tools.embed import BackendUnavailable


def resolve_model_dir(model: str | None, backend: str) -> str:
    """A local directory with ``model``'s config and weights, or ``BackendUnavailable`` saying how to get one.

    ``model`` may be a directory or a hub id already in the local Hugging Face cache; nothing
    is ever downloaded (tests and the default run are offline by design).
    """
    if not model:
        raise BackendUnavailable(
            f"captioner.backend={backend!r} needs weights: set captioner.model to a local model directory "
            "(or a hub id already downloaded, e.g. `hf download HuggingFaceTB/SmolVLM2-2.2B-Instruct`), "
            "or use captioner.backend='classic' (CPU, no weights)")
    path = os.path.expanduser(model)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise BackendUnavailable(
                f"captioner.model={model!r} is a directory without config.json: point captioner.model at a "
                "saved model directory (save_pretrained / `hf download --local-dir`)")
        return path
    if model.startswith((".", "~", "/")) or model.count("/") > 1:  # a path, not an "org/name" hub id
        raise BackendUnavailable(f"captioner.model={model!r}: no such directory; fix captioner.model")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - transformers always brings huggingface_hub
        raise BackendUnavailable(f"captioner.model={model!r} is not a local directory (no hub downloads)") \
            from None
    try:
        local = snapshot_download(model, local_files_only=True)
    except (LocalEntryNotFoundError, ValueError, OSError):
        raise BackendUnavailable(
            f"captioner.model={model!r} is neither a local directory nor in the local Hugging Face cache, "
            f"and videonav never downloads weights: run `hf download {model}` on a machine with access, "
            "or set captioner.model to a local directory") from None
    if not os.path.isfile(os.path.join(local, "config.json")):
        raise BackendUnavailable(f"captioner.model={model!r}: cached snapshot {local} has no config.json; "
                                 f"re-download it (`hf download {model}`) or fix captioner.model")
    return local


def to_uint8_rgb(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB from the frame shapes our readers produce (RGB, grey, RGBA, float in [0, 1])."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        scale = 255.0 if a.dtype.kind == "f" and float(a.max(initial=0.0)) <= 1.0 else 1.0
        a = np.clip(a.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"frame must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def to_pil(frame: np.ndarray) -> Any:
    """PIL RGB image (PIL image processors work without torchvision, which we never install)."""
    from PIL import Image

    return Image.fromarray(to_uint8_rgb(frame), mode="RGB")


def data_uri(frame: np.ndarray, fmt: str = "jpeg", quality: int = 85) -> str:
    """``data:image/...;base64,...`` for OpenAI-style ``image_url`` content parts."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpg", "jpeg"):
        to_pil(frame).save(buf, format="JPEG", quality=quality)
        mime = "image/jpeg"
    elif fmt == "png":
        to_pil(frame).save(buf, format="PNG")
        mime = "image/png"
    else:
        raise ValueError(f"image format must be 'jpeg' or 'png', got {fmt!r}")
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def subsample(frames: Sequence[np.ndarray], timestamps: Sequence[float],
              limit: int) -> tuple[list[np.ndarray], list[float]]:
    """At most ``limit`` frames, evenly spread, first and last kept (engines cap images per prompt).

    >>> subsample([1, 2, 3, 4, 5], [0, 1, 2, 3, 4], 3)[1]
    [0, 2, 4]
    """
    if len(frames) != len(timestamps):
        raise ValueError(f"{len(frames)} frames but {len(timestamps)} timestamps")
    n = len(frames)
    if n <= limit:
        return list(frames), list(timestamps)
    idx = np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int))
    return [frames[i] for i in idx], [timestamps[i] for i in idx]


def chat_messages(user_text: str, n_images: int, video: bool) -> list[dict[str, Any]]:
    """HF-style chat messages: media placeholders first, then the text (the order Qwen-VL and
    SmolVLM were trained with); ``apply_chat_template`` turns them into each model's tokens."""
    media: list[dict[str, Any]] = [{"type": "image"}] * n_images
    if video and n_images:
        media = [{"type": "video"}]
    return [{"role": "user", "content": [*media, {"type": "text", "text": user_text}]}]


def video_metadata(timestamps: Sequence[float]) -> dict[str, Any]:
    """Metadata for pre-sampled frames: an effective fps so models that print frame times or
    scale temporal positions (Qwen2.5-VL, Qwen3-VL) see the real spacing, relative to the first frame."""
    n = len(timestamps)
    duration = float(timestamps[-1] - timestamps[0]) if n > 1 else 0.0
    fps = (n - 1) / duration if duration > 0 else 1.0
    return {"total_num_frames": n, "fps": fps, "frames_indices": list(range(n)),
            "duration": max(duration, 1.0 / fps)}
