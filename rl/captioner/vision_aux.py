"""A direct training signal for the fresh vision tower: colour/shape classification of the visual tokens.

Why: through a 135M LM, the caption loss reaches the vision tower as a trickle (the colour and
shape words are 2-3 of ~25 target tokens, and the LM first learns the majority phrase), so after
hundreds of CPU steps the tower still cannot tell a circle from a square. The generator knows
what it drew (:func:`videonav.rl.captioner.data.attr_labels`), so a linear head on the pooled
visual tokens (the connector's output, i.e. exactly what the LM receives) is trained with
cross-entropy on colour and shape: first alone (vision-only steps take a fraction of a second,
no LM involved), then beside the SFT loss so the tokens stay informative while the LM learns
to read them. The head's module lives in :mod:`videonav.tools.captioners.attr_head`: the trainer
ships it inside every saved model dir (:func:`install_head`), and ``--captioner transformers``
uses it at caption time to make the caption agree with it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES, attr_labels, scene_frames
from videonav.tools.captioners import attr_head as AH
from videonav.tools.captioners.attr_head import HEAD_FILE, AttrPredictor, visual_tokens
from videonav.tools.captioners.common import to_pil
from videonav.tools.captioners.ocr_prompt import META_FILE
from videonav.tools.video import sample_video as sv

__all__ = ["HEAD_FILE", "visual_tokens"]
PRETRAINED_FILE = "vision_pretrained.pt"
ATTR_WORDS = tuple(w for c in ATTR_COLOURS for w in c.split() if w != "dark") + ATTR_SHAPES


def make_head(hidden: int, seed: int = 0) -> Any:
    """The attribute head over this generator's label space (:data:`ATTR_COLOURS`, :data:`ATTR_SHAPES`)."""
    return AH.make_head(hidden, len(ATTR_COLOURS), len(ATTR_SHAPES), seed)


def install_head(model_dir: str | Path, head: Any, threshold: float = AH.DEFAULT_THRESHOLD) -> Path:
    """Put the head inside a saved captioner dir: ``attr_head.pt`` (a state dict, a module, or the
    path of a saved state dict) and its class names + threshold in ``videonav_captioner.json``, so
    ``--captioner transformers --model DIR`` uses it. Returns the head file's path."""
    import torch

    out = Path(model_dir)
    meta_path = out / META_FILE
    if not meta_path.is_file():
        raise ValueError(f"{model_dir}: not a videonav captioner directory (no {META_FILE})")
    if isinstance(head, (str, Path)):
        state = torch.load(head, map_location="cpu", weights_only=True)
    else:
        state = head.state_dict() if hasattr(head, "state_dict") else dict(head)
    if state["colour.weight"].shape[0] != len(ATTR_COLOURS) or state["shape.weight"].shape[0] != len(ATTR_SHAPES):
        raise ValueError(f"{head}: not a {len(ATTR_COLOURS)}-colour / {len(ATTR_SHAPES)}-shape attribute head")
    torch.save({k: v.detach().cpu() for k, v in state.items()}, out / HEAD_FILE)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta[AH.META_KEY] = {"colours": list(ATTR_COLOURS), "shapes": list(ATTR_SHAPES), "threshold": threshold}
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return out / HEAD_FILE


def aux_loss(model: Any, head: Any, pixel_values: Any, pixel_mask: Any, labels: Any) -> tuple[Any, Any]:
    """(mean of the colour and shape cross-entropies, (n, 2) correct flags) for labels (n, 2)."""
    import torch
    import torch.nn.functional as F

    colour, shape = head(visual_tokens(model, pixel_values, pixel_mask))
    labels = labels.to(colour.device)
    loss = (F.cross_entropy(colour, labels[:, 0]) + F.cross_entropy(shape, labels[:, 1])) / 2
    right = torch.stack([colour.argmax(-1) == labels[:, 0], shape.argmax(-1) == labels[:, 1]], 1)
    return loss, right.detach()


def attribute_weights(tokenizer: Any, caption: str, n_target: int, weight: float) -> Any:
    """Per target token (caption + eos): ``weight`` where the token overlaps a colour/shape word, else 1.

    Why: those words carry what only the pixels tell; in a plain mean they are ~10% of the loss.
    """
    import re

    import torch

    w = torch.ones(n_target)
    if weight == 1.0 or not caption:
        return w
    spans = [m.span() for m in re.finditer(r"[A-Za-z]+", caption) if m.group().lower() in ATTR_WORDS]
    offsets = tokenizer(caption, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    for i, (a, b) in enumerate(offsets[:n_target]):
        if any(a < e and s < b for s, e in spans):
            w[i] = weight
    return w


def _clips(scenes: Sequence[dict], frames: int, rng: np.random.Generator | None
           ) -> list[list[np.ndarray]]:
    return [scene_frames(s, frames, rng=rng)[0] for s in scenes]


def _pixels(processor: Any, clips: Sequence[Sequence[np.ndarray]]) -> tuple[Any, Any]:
    enc = processor.image_processor(images=[[to_pil(f) for f in c] for c in clips], return_tensors="pt")
    return enc["pixel_values"], enc["pixel_attention_mask"]


def scenes_of(seeds: Sequence[int], minutes: float) -> list[dict]:
    return [s for seed in seeds for s in sv.plan(minutes, seed)["scenes"]]


def accuracy(model: Any, head: Any, processor: Any, scenes: Sequence[dict], frames: int,
             jitter_seed: int | None = 0, batch: int = 32) -> tuple[float, float]:
    """(colour, shape) accuracy of the head on ``scenes`` (frames at random positions unless
    ``jitter_seed`` is None: then the first and last frame, as the caption bench draws them)."""
    import torch

    rng = np.random.default_rng(jitter_seed) if jitter_seed is not None else None
    right = []
    was = model.training, head.training
    model.eval()
    head.eval()
    with torch.no_grad():
        for i in range(0, len(scenes), batch):
            chunk = scenes[i:i + batch]
            pv, pm = _pixels(processor, _clips(chunk, frames, rng))
            labels = torch.tensor([attr_labels(s) for s in chunk])
            right.append(aux_loss(model, head, pv.to(model.dtype), pm, labels)[1])
    model.train(was[0])
    head.train(was[1])
    r = torch.cat(right).float().mean(0)
    return float(r[0]), float(r[1])


def pretrain_vision(model: Any, processor: Any, head: Any, cfg: Any, log: Callable[[str], None] = print
                    ) -> dict[str, Any]:
    """Vision tower + connector + head on the aux loss alone, frames re-drawn at random positions
    every step (the train seeds' scenes; ``cfg`` is a CaptionerRunConfig). Returns the history and
    held-out accuracy (the eval seeds' scenes)."""
    import torch

    params = [p for n, p in model.named_parameters() if "vision_model" in n or "connector" in n]
    opt = torch.optim.AdamW([*params, *head.parameters()], lr=cfg.aux.lr)
    scenes = scenes_of(cfg.data.train_seeds, cfg.data.minutes)
    rng = np.random.default_rng(cfg.train.seed)
    pick = random.Random(cfg.train.seed)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    model.train()
    head.train()
    for step in range(1, cfg.aux.pretrain_steps + 1):
        chunk = pick.sample(scenes, min(cfg.aux.batch_size, len(scenes)))
        pv, pm = _pixels(processor, _clips(chunk, cfg.model.frames, rng))
        labels = torch.tensor([attr_labels(s) for s in chunk])
        loss, right = aux_loss(model, head, pv.to(cfg.train.device, model.dtype), pm.to(cfg.train.device), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*params, *head.parameters()], cfg.train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        acc = right.float().mean(0)
        history.append({"step": step, "aux_loss": float(loss.detach()), "colour": float(acc[0]),
                        "shape": float(acc[1])})
        if step % cfg.train.log_steps == 0 or step == cfg.aux.pretrain_steps:
            log(f"[vision] step {step}/{cfg.aux.pretrain_steps} aux_loss={float(loss.detach()):.4f} "
                f"colour={float(acc[0]):.2f} shape={float(acc[1]):.2f} ({time.perf_counter() - t0:.0f} s)")
    held = scenes_of(cfg.data.eval_seeds, cfg.data.minutes)
    colour, shape = accuracy(model, head, processor, held, cfg.model.frames)
    log(f"[vision] held-out ({len(held)} scenes, seeds {cfg.data.eval_seeds[0]}-{cfg.data.eval_seeds[-1]}, "
        f"random frames): colour {colour:.1%} shape {shape:.1%} ({time.perf_counter() - t0:.0f} s)")
    return {"history": history, "held_out": {"colour": colour, "shape": shape},
            "seconds": time.perf_counter() - t0}


def match_token_scale(model: Any, processor: Any, scenes: Sequence[dict], frames: int) -> float:
    """Rescale the connector so the visual tokens' RMS equals the LM's word embeddings' RMS; returns
    the factor. Why: the aux loss is scale-free (the head normalises), so pretraining lets the
    tokens grow far past the embeddings the LM knows, and SFT then starts at a caption loss of 25
    instead of 3. The bias-free linear projection scales exactly, and the head's answers stay the same."""
    import torch

    with torch.no_grad():
        pv, pm = _pixels(processor, _clips(scenes, frames, None))
        tokens = torch.cat(visual_tokens(model, pv.to(model.dtype), pm))
        want = model.get_input_embeddings().weight.float().pow(2).mean().sqrt()
        factor = float(want / tokens.float().pow(2).mean().sqrt().clamp(min=1e-8))
        model.model.connector.modality_projection.proj.weight.mul_(factor)
    return factor


def save_vision(model: Any, head: Any, path: Path, info: dict[str, Any]) -> None:
    import torch

    state = {k: v for k, v in model.model.state_dict().items() if k.startswith(("vision_model.", "connector."))}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"vision": state, "head": head.state_dict(), "info": info}, path)


def load_vision(model: Any, head: Any, path: Path) -> dict[str, Any]:
    """Pretrained tower + connector into ``model`` (strict on those keys) and the head; returns its info."""
    import torch

    blob = torch.load(path, weights_only=True)
    missing, unexpected = model.model.load_state_dict(blob["vision"], strict=False)
    bad = [k for k in missing if k.startswith(("vision_model.", "connector."))] + list(unexpected)
    if bad:
        raise ValueError(f"{path}: pretrained vision weights do not fit this model.* config ({bad[:3]}); "
                         "delete the file to pretrain again")
    head.load_state_dict(blob["head"])
    return dict(blob.get("info", {}))


def with_head(pred: AttrPredictor, model: Any, processor: Any, chunk: Sequence[Any], *texts: list[str],
              device: str = "cpu") -> tuple[list[str], ...]:
    """Each list of captions (n per clip of ``chunk``, in clip order) made to agree with the head's
    labels for its clip, as ``--captioner transformers`` does at index time."""
    from videonav.rl.captioner.batch import collate

    b = collate(chunk, processor.tokenizer.pad_token_id, with_target=False)
    attrs = pred.predict(model, b["pixel_values"].to(device, model.dtype), b["pixel_attention_mask"].to(device))
    out = []
    for group in texts:
        per = len(group) // max(len(chunk), 1)
        out.append([pred.apply(t, attrs[i // per], chunk[i // per].ocr or []) for i, t in enumerate(group)])
    return tuple(out)
