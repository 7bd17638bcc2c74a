"""Refit a saved captioner's attribute head on its frozen vision tower, with colour-balanced scenes.

Why: the head that SFT trained beside the caption loss saw each bright slide colour on ~2% of the
training clips, and a bright slide is where the generator draws a *black* sprite (a light
background flips the ink), so the head is least sure exactly on the slides the colour-shape
questions ask about (on training seeds 100-119: a muted slide's shape right ~95%, a bright one's
about half). The tower already tells the sprite apart; the linear head has not seen enough black
sprites. So the generator's own renderer redraws training scenes (seeds 100-199 only) with a
bright background at a set share (``bright_share``, ink chosen by the generator's rule), the
frozen tower's pooled tokens are computed once, and only the head (LayerNorm + two linear layers)
is fitted on them, in seconds. The tower, the connector and the LM do not change, so the
captions the LM writes stay byte-identical; only the head's labels improve.

    python -m videonav.rl.captioner.head_refit MODEL_DIR --seeds 120-199 --val-seeds 100-119
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES, attr_labels, scene_frames
from videonav.rl.captioner.vision_aux import HEAD_FILE, _pixels, install_head, make_head, scenes_of
from videonav.tools.captioners.attr_head import head_meta, visual_tokens
from videonav.tools.video import sample_video as sv


def brightened(scenes: Sequence[dict], share: float, seed: int) -> list[dict]:
    """The scenes, a ``share`` of them redrawn on a random bright background (the generator's colours)."""
    rng = random.Random(seed)
    out = []
    for s in scenes:
        if rng.random() < share:
            c = rng.choice(list(sv.BRIGHT))
            s = {**s, "colour": c, "bg": sv.BRIGHT[c]}
        out.append(s)
    return out


def pooled(model: Any, processor: Any, scenes: Sequence[dict], frames: int, seed: int, batch: int = 32,
           log: Any = print) -> tuple[Any, Any]:
    """([mean; max] of each clip's visual tokens (n, 2 x hidden), labels (n, 2)); frames at random
    points of each scene's parts, as in training."""
    import torch

    rng = np.random.default_rng(seed)
    zs, t0 = [], time.perf_counter()
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(scenes), batch):
            clips = [scene_frames(s, frames, rng=rng)[0] for s in scenes[i:i + batch]]
            pv, pm = _pixels(processor, clips)
            toks = visual_tokens(model, pv.to(model.dtype), pm)
            zs.append(torch.stack([torch.cat([t.mean(0), t.max(0).values]) for t in toks]).float())
            if (i // batch) % 10 == 0:
                log(f"[head] pooled {i + len(clips)}/{len(scenes)} clips ({time.perf_counter() - t0:.0f} s)")
    return torch.cat(zs), torch.tensor([attr_labels(s) for s in scenes])


def _logits(head: Any, z: Any) -> tuple[Any, Any]:
    n = head.norm(z)
    return head.colour(n), head.shape(n)


def fit(head: Any, z: Any, y: Any, steps: int = 400, lr: float = 3e-3, weight_decay: float = 1e-2) -> list[float]:
    """Full-batch AdamW on the cached features (cross-entropy of colour + shape); returns the losses."""
    import torch
    import torch.nn.functional as F

    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    head.train()
    for _ in range(steps):
        c, s = _logits(head, z)
        loss = F.cross_entropy(c, y[:, 0]) + F.cross_entropy(s, y[:, 1])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    head.eval()
    return losses


def accuracy(head: Any, z: Any, y: Any) -> dict[str, float]:
    """Colour / shape accuracy, overall and on the bright slides alone."""
    import torch

    with torch.no_grad():
        c, s = _logits(head, z)
    rc, rs = c.argmax(-1) == y[:, 0], s.argmax(-1) == y[:, 1]
    bright = y[:, 0] >= len(ATTR_COLOURS) - len(sv.BRIGHT)
    out = {"colour": float(rc.float().mean()), "shape": float(rs.float().mean()), "n": int(len(y))}
    if bool(bright.any()):
        out.update(bright_colour=float(rc[bright].float().mean()), bright_shape=float(rs[bright].float().mean()),
                   bright_n=int(bright.sum()))
    return out


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from videonav.rl.captioner.model import load_captioner

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", help="a saved captioner dir that ships its head (attr_head.pt)")
    ap.add_argument("--seeds", default="120-199", help="generator seeds to fit on (100-199 only)")
    ap.add_argument("--val-seeds", default="100-119", help="training seeds kept out of the fit, for the check")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--bright-share", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--features", help="a .pt file caching the pooled tokens (written when absent, read after)")
    ap.add_argument("--out", help="model dir to install the refitted head into (default: model_dir itself)")
    args = ap.parse_args(argv)
    if any(s >= 200 for s in _seeds(args.seeds) + _seeds(args.val_seeds)):
        print("head_refit: error: seeds 200-299 are evaluation seeds; fit and check on 100-199", file=sys.stderr)
        return 1
    meta = head_meta(args.model_dir)
    if meta is None or not (Path(args.model_dir) / HEAD_FILE).is_file():
        print(f"head_refit: error: {args.model_dir} ships no attribute head; install one first "
              "(videonav.rl.captioner.vision_aux.install_head)", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    model, processor, mcfg = load_captioner(args.model_dir)
    head = make_head(model.config.text_config.hidden_size)
    head.load_state_dict(torch.load(Path(args.model_dir) / HEAD_FILE, weights_only=True))
    train = brightened(scenes_of(_seeds(args.seeds), args.minutes), args.bright_share, 0)
    val = scenes_of(_seeds(args.val_seeds), args.minutes)
    val_bright = brightened(val, 1.0, 1)
    cache = Path(args.features) if args.features else None
    if cache is not None and cache.is_file():
        zt, yt, zv, yv, zb, yb = torch.load(cache, weights_only=True)
    else:
        zt, yt = pooled(model, processor, train, mcfg.frames, 0)
        zv, yv = pooled(model, processor, val, mcfg.frames, 1)
        zb, yb = pooled(model, processor, val_bright, mcfg.frames, 2)
        if cache is not None:
            torch.save((zt, yt, zv, yv, zb, yb), cache)
    print(f"before: val {accuracy(head, zv, yv)} | val all-bright {accuracy(head, zb, yb)}")
    losses = fit(head, zt, yt, args.steps, args.lr)
    print(f"fit on {len(yt)} clips ({sum(int(y) >= 7 for y in yt[:, 0])} bright): loss {losses[0]:.3f} -> "
          f"{losses[-1]:.3f}; train {accuracy(head, zt, yt)}")
    print(f"after:  val {accuracy(head, zv, yv)} | val all-bright {accuracy(head, zb, yb)}")
    out = args.out or args.model_dir
    install_head(out, head, float(meta.get("threshold", 0.5)))
    print(f"head installed in {out} ({len(ATTR_COLOURS)} colours, {len(ATTR_SHAPES)} shapes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
