"""Shot boundaries and leaf clips from one sparse scan of the video.

Why one scan at ``video.scan_fps`` (1 fps) on tiny thumbnails: it is the only pass over the whole
file, and everything cheap that the tree needs comes out of it at once: shot cuts (colour
histogram jumps), and per-second brightness, colour names and motion, from which any node's
scene statistics are computed later without decoding again. Cuts are placed halfway between the
two samples that straddle them (±0.5 s at 1 fps), fine for aligning 10-30 s leaves.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonav.tools.config import VideoConfig
from videonav.tools.video.probe import VideoInfo
from videonav.tools.video.readers import VideoReader

THUMB_WIDTH = 96
SCAN_CHUNK = 120  # samples per read: bounds memory and paces progress reports

# Named prototypes for "dominant colour names"; dark variants keep dim scenes from all reading "black".
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (10, 10, 10), "white": (245, 245, 245), "gray": (128, 128, 128), "red": (215, 35, 35),
    "orange": (245, 140, 25), "yellow": (235, 215, 45), "green": (45, 180, 65), "cyan": (45, 210, 225),
    "blue": (35, 70, 210), "purple": (145, 45, 195), "pink": (245, 135, 190), "brown": (120, 75, 35),
    "dark blue": (20, 30, 95), "dark green": (20, 75, 40), "dark red": (95, 20, 30), "teal": (10, 85, 95),
}
_NAMES = list(PALETTE)
_PROTO = np.array([PALETTE[n] for n in _NAMES], dtype=np.float32)


@functools.cache
def _palette_lut() -> np.ndarray:
    """Nearest palette colour for every RGB cube cell (32 levels a channel): one lookup a pixel."""
    c = (np.arange(32, dtype=np.float32) * 8 + 4)
    grid = np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)
    d = ((grid[:, None, :] - _PROTO[None, :, :]) ** 2).sum(-1)
    return d.argmin(1).astype(np.int64)


def colour_hist(img: np.ndarray) -> np.ndarray:
    """Share of pixels nearest to each palette colour (sums to 1)."""
    q = (img.reshape(-1, 3) >> 3).astype(np.int64)
    counts = np.bincount(_palette_lut()[(q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]], minlength=len(_NAMES))
    return counts.astype(np.float32) / max(1.0, float(counts.sum()))


def dominant_colour(img: np.ndarray) -> str:
    """The palette name covering most of a frame (its background, for slides)."""
    small = img[:: max(1, img.shape[0] // 36), :: max(1, img.shape[1] // 64)]
    return _NAMES[int(np.argmax(colour_hist(np.ascontiguousarray(small))))]


def rgb_hist(img: np.ndarray, bins: int = 8) -> np.ndarray:
    q = (img.reshape(-1, 3) // (256 // bins)).astype(np.int64)
    idx = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    h = np.bincount(idx, minlength=bins**3).astype(np.float32)
    return h / max(1.0, h.sum())


def luma(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114).astype(np.float32) / 255.0


@dataclass
class SceneScan:
    """Per-sample features of the whole video (sample i is at ``times[i]``)."""

    times: np.ndarray
    brightness: np.ndarray
    motion: np.ndarray  # mean |luma difference| to the previous sample, 0 across a cut
    diff: np.ndarray  # histogram distance to the previous sample (total variation, 0..1)
    colours: np.ndarray  # (n, len(PALETTE)) colour shares
    cuts: list[float]
    duration: float

    def span_stats(self, start: float, end: float) -> dict[str, Any]:
        """Scene statistics of [start, end): shot count, motion level, brightness, dominant colours."""
        sel = (self.times >= start) & (self.times < end)
        if not sel.any():
            sel = np.abs(self.times - (start + end) / 2) == np.abs(self.times - (start + end) / 2).min()
        cuts_in = [c for c in self.cuts if start < c < end]
        mot = float(self.motion[sel].mean()) if sel.any() else 0.0
        shares = self.colours[sel].mean(0)
        top = [(_NAMES[i], float(shares[i])) for i in np.argsort(-shares)[:3] if shares[i] >= 0.12]
        return {"shots": len(cuts_in) + 1, "motion": round(mot, 4), "motion_level": motion_level(mot),
                "brightness": round(float(self.brightness[sel].mean()), 3),
                "colours": [n for n, _ in top]}

    def to_dict(self) -> dict[str, Any]:
        return {"times": self.times.round(3).tolist(), "brightness": self.brightness.round(4).tolist(),
                "motion": self.motion.round(5).tolist(), "diff": self.diff.round(4).tolist(),
                "colours": self.colours.round(3).tolist(), "cuts": self.cuts, "duration": self.duration,
                "palette": _NAMES}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneScan:
        if d.get("palette") != _NAMES:
            raise ValueError("scan was made with another colour palette")
        return cls(np.asarray(d["times"], np.float64), np.asarray(d["brightness"], np.float32),
                   np.asarray(d["motion"], np.float32), np.asarray(d["diff"], np.float32),
                   np.asarray(d["colours"], np.float32).reshape(len(d["times"]), len(_NAMES)),
                   [float(c) for c in d["cuts"]], float(d["duration"]))


def motion_level(m: float) -> str:
    """
    >>> motion_level(0.001), motion_level(0.01), motion_level(0.05), motion_level(0.2)
    ('static', 'low motion', 'moderate motion', 'high motion')
    """
    if m < 0.0015:
        return "static"
    return "low motion" if m < 0.02 else "moderate motion" if m < 0.08 else "high motion"


def brightness_word(b: float) -> str:
    return "dark" if b < 0.25 else "dim" if b < 0.45 else "bright" if b > 0.7 else "medium brightness"


def stats_sentence(stats: dict[str, Any]) -> str:
    """Scene statistics as one short sentence (what the classic captioner and parents say).

    >>> stats_sentence({"shots": 2, "motion_level": "low motion", "brightness": 0.8,
    ...                 "colours": ["red", "white"]})
    'Scene: 2 shots, low motion, bright, mostly red and white.'
    """
    parts = [f"{stats.get('shots', 1)} shot{'s' if stats.get('shots', 1) != 1 else ''}"]
    if stats.get("motion_level"):
        parts.append(str(stats["motion_level"]))
    if "brightness" in stats:
        parts.append(brightness_word(float(stats["brightness"])))
    cols = list(stats.get("colours") or [])
    if cols:
        named = " and ".join(cols) if len(cols) <= 2 else ", ".join(cols[:-1]) + " and " + cols[-1]
        parts.append("mostly " + named)
    return "Scene: " + ", ".join(parts) + "."


def frame_stats(images: list[np.ndarray]) -> dict[str, Any]:
    """The same statistics from a handful of frames, when no scan is at hand."""
    if not images:
        return {}
    small = [im[:: max(1, im.shape[0] // 54), :: max(1, im.shape[1] // 96)] for im in images]
    hists = [rgb_hist(s) for s in small]
    shots = 1 + sum(0.5 * float(np.abs(a - b).sum()) > 0.35 for a, b in zip(hists, hists[1:], strict=False))
    lum = [luma(s) for s in small]
    diffs = [float(np.abs(a - b).mean()) for a, b in zip(lum, lum[1:], strict=False)]
    mot = float(np.mean(diffs)) if diffs else 0.0
    shares = np.mean([colour_hist(s) for s in small], axis=0)
    top = [_NAMES[i] for i in np.argsort(-shares)[:3] if shares[i] >= 0.12]
    return {"shots": shots, "motion": round(mot, 4), "motion_level": motion_level(mot),
            "brightness": round(float(np.mean([x.mean() for x in lum])), 3), "colours": top}


def scan_video(reader: VideoReader, info: VideoInfo, cfg: VideoConfig,
               progress: Callable[[float], None] | None = None) -> SceneScan:
    """Decode ``scan_fps`` thumbnails over the whole video and derive cuts and per-sample features."""
    step = 1.0 / cfg.scan_fps
    n = max(1, int(math.ceil(info.duration / step)))
    times = np.minimum((np.arange(n) + 0.5) * step, max(0.0, info.duration - 1e-3))
    bright = np.zeros(n, np.float32)
    motion = np.zeros(n, np.float32)
    diff = np.zeros(n, np.float32)
    colours = np.zeros((n, len(_NAMES)), np.float32)
    prev_h: np.ndarray | None = None
    prev_l: np.ndarray | None = None
    for lo in range(0, n, SCAN_CHUNK):
        frames = reader.read(times[lo : lo + SCAN_CHUNK].tolist(), THUMB_WIDTH)
        for j, img in enumerate(frames.images):
            i = lo + j
            h, lum = rgb_hist(img), luma(img)
            bright[i] = float(lum.mean())
            colours[i] = colour_hist(img)
            if prev_h is not None and prev_l is not None:
                diff[i] = 0.5 * float(np.abs(h - prev_h).sum())
                motion[i] = float(np.abs(lum - prev_l).mean())
            prev_h, prev_l = h, lum
        if progress is not None:
            progress(min(1.0, (lo + SCAN_CHUNK) / n))
    cut_idx = [i for i in range(1, n) if diff[i] > cfg.shot_threshold]
    motion[cut_idx] = 0.0
    cuts = [float((times[i - 1] + times[i]) / 2) for i in cut_idx]
    return SceneScan(times, bright, motion, diff, colours, cuts, info.duration)


def segment_leaves(cuts: list[float], duration: float, min_s: float,
                   max_s: float) -> list[tuple[float, float]]:
    """Leaf spans tiling [0, duration]: shots merged up to ``min_s``, long shots split to ``<= max_s``.

    Boundaries fall on shot cuts whenever the limits allow; a short tail joins the last leaf
    (split in two halves if that would overflow ``max_s``).

    >>> segment_leaves([12.0, 40.0, 45.0, 80.0], 100.0, 10, 30)
    [(0.0, 12.0), (12.0, 40.0), (40.0, 60.0), (60.0, 80.0), (80.0, 100.0)]
    >>> segment_leaves([], 5.0, 10, 30)
    [(0.0, 5.0)]
    """
    if duration <= 0:
        return []
    max_s = max(max_s, min_s)
    bounds = sorted({c for c in cuts if 0 < c < duration}) + [duration]
    out: list[tuple[float, float]] = []
    start = 0.0
    prev_b = 0.0
    for b in bounds:
        if b - start <= max_s:
            if b - start >= min_s or b == duration:
                out.append((start, b))
                start = b
            prev_b = b
            continue
        if prev_b - start >= min_s:  # close the pending leaf at the previous cut, then handle this shot
            out.append((start, prev_b))
            start = prev_b
        parts = max(1, math.ceil((b - start) / max_s))
        if (b - start) / parts < min_s and b != duration:
            parts = max(1, parts - 1)
        step = (b - start) / parts
        for k in range(parts):
            out.append((start + k * step, b if k == parts - 1 else start + (k + 1) * step))
        start = prev_b = b
    if len(out) >= 2 and out[-1][1] - out[-1][0] < min_s:
        (a, _), (_, e) = out[-2], out[-1]
        out[-2:] = [(a, e)] if e - a <= max_s else [(a, (a + e) / 2), ((a + e) / 2, e)]
    return [(round(a, 3), round(e, 3)) for a, e in out]
