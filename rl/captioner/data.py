"""(clip frames, reference captions) pairs: generated sample videos, or an MSR-VTT / VATEX layout.

Why frames are drawn from the generator's plan instead of decoding its mp4: the plan knows
every scene's colour, shape, motion, number and title, and rendering a scene's frames directly
(the generator's own card and sprite code) costs milliseconds, where encoding and decoding a
video costs minutes. The pixels are the same ones the mp4 holds (before H.264). Splits are by
generator seed (train 100-199, eval 200-299), so no evaluation video shares a plan with training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from videonav.tools.video import sample_video as sv

MUTED_NAMES = {(20, 30, 90): "dark blue", (20, 70, 40): "dark green", (90, 20, 30): "dark red",
               (60, 70, 80): "grey", (90, 60, 30): "brown", (10, 80, 90): "teal", (50, 30, 100): "violet"}
# the aux head's label space (rl/captioner/vision_aux.py): every colour word a reference can use
ATTR_COLOURS = tuple(dict.fromkeys([*MUTED_NAMES.values(), *sv.BRIGHT]))
ATTR_SHAPES = tuple(sv.SHAPES)
TRAIN_SEEDS = range(100, 200)
EVAL_SEEDS = range(200, 300)


@dataclass
class Pair:
    """One clip: its frames, their timestamps, several reference captions (and, for ``ocr_prompt``
    captioners, the OCR lines of its frames)."""

    clip_id: str
    frames: list[np.ndarray]
    timestamps: list[float]
    refs: list[str]
    ocr: list[str] | None = None
    labels: tuple[int, int] | None = None  # (ATTR_COLOURS index, ATTR_SHAPES index): generated clips only


def colour_name(scene: dict) -> str:
    """The slide's colour in words: the bright needle colour, else the muted theme's name."""
    return scene.get("colour") or MUTED_NAMES.get(tuple(scene["bg"]), "dark")


def attr_labels(scene: dict) -> tuple[int, int]:
    """(colour, shape) class ids of a scene for the vision tower's auxiliary head.

    >>> attr_labels({"colour": "red", "bg": (220, 30, 30), "shape": "square"})
    (7, 1)
    """
    return ATTR_COLOURS.index(colour_name(scene)), ATTR_SHAPES.index(scene["shape"])


def scene_captions(scene: dict) -> list[str]:
    """Three natural reference sentences from the generator's facts (what a careful viewer would say).

    >>> s = {"kind": "scene", "title": "VOLCANOES 2", "text": "NUMBER 4821", "shape": "circle",
    ...      "colour": "red", "bg": (220, 30, 30), "chapter": "Volcanoes"}
    >>> scene_captions(s)[0]
    'A white circle moves from left to right across a red slide titled VOLCANOES 2 that shows NUMBER 4821.'
    """
    colour, shape = colour_name(scene), scene["shape"]
    ink = "black" if sum(scene["bg"]) > 400 else "white"
    title, text = scene["title"], scene["text"]
    if scene["kind"] == "title":
        return [f"A {colour} title card reads {title}: {text}, while a {ink} {shape} moves to the right.",
                f"The chapter opens with a {colour} card saying {title} {text} and a small {shape} sliding right.",
                f"A {shape} glides left to right under the words {title} and {text} on a {colour} background."]
    return [f"A {ink} {shape} moves from left to right across a {colour} slide titled {title} that shows {text}.",
            f"On a {colour} background reading {title} and {text}, a small {shape} slides to the right.",
            f"A {colour} slide with the title {title} and the line {text}; a {shape} travels across the bottom."]


def frame_indices(total: int, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` frame indices of a ``total``-frame scene: the first and last and evenly between, or
    with ``rng`` one uniformly random frame in each of ``n`` equal parts (the indexer samples the
    parts' centres, so the sprite can be anywhere along its path: training must see it there too).

    >>> frame_indices(100, 2).tolist(), frame_indices(1, 3).tolist()
    ([0, 99], [0, 0, 0])
    >>> bool(all(a < 50 <= b for a, b in [frame_indices(100, 2, np.random.default_rng(s)) for s in range(5)]))
    True
    """
    if rng is None or total <= n:
        return np.linspace(0, max(total - 1, 0), n).round().astype(int)
    edges = np.linspace(0, total, n + 1)
    return np.array([int(rng.integers(int(a), max(int(a) + 1, int(b))))
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])


def scene_frames(scene: dict, n: int, fps: int = 10, rng: np.random.Generator | None = None
                 ) -> tuple[list[np.ndarray], list[float]]:
    """``n`` frames of one scene, exactly as the generator draws them (sprite included), at
    :func:`frame_indices`."""
    big = scene["kind"] == "scene"
    lines = [(scene["title"], 44), (scene["text"], 44)] if big else [(scene["title"], 40), (scene["text"], 52)]
    card = sv.render_card(tuple(scene["bg"]), lines)
    mask = sv.sprite(scene["shape"])
    ink = np.array([255, 255, 255] if sum(scene["bg"]) < 400 else [20, 20, 20], dtype=np.uint8)
    total = int(round((scene["end"] - scene["start"]) * fps))
    out, times = [], []
    for i in frame_indices(total, n, rng):
        img = card.copy()
        x = int(20 + (sv.W - 80) * (i / max(total - 1, 1)))
        y = sv.H - 60
        img[y:y + mask.shape[0], x:x + mask.shape[1]][mask] = ink
        out.append(img)
        times.append(round(scene["start"] + i / fps, 1))
    return out, times


def sample_pairs(seeds: Iterable[int], minutes: float = 5.0, frames: int = 4,
                 per_video: int | None = None, jitter: bool = False) -> Iterator[Pair]:
    """Every scene (or the first ``per_video``) of each seed's generated video, as a Pair
    (``jitter``: random frame positions, seeded by seed and scene, see :func:`frame_indices`)."""
    for seed in seeds:
        scenes = sv.plan(minutes, seed)["scenes"]
        for i, s in enumerate(scenes[:per_video] if per_video else scenes):
            rng = np.random.default_rng([seed, i]) if jitter else None
            f, t = scene_frames(s, frames, rng=rng)
            yield Pair(f"s{seed}_{i:03d}", f, t, scene_captions(s), labels=attr_labels(s))


def load_caption_dataset(annotations: str | Path, videos: str | Path, frames: int = 4,
                         limit: int | None = None) -> Iterator[Pair]:
    """MSR-VTT (``{"sentences": [{"video_id", "caption"}]}``) or VATEX (``[{"videoID", "enCap"}]``) + videos.

    Videos are ``<videos>/<id>.mp4`` (or .avi/.mkv/.webm); ``frames`` are spread evenly over each.
    """
    try:
        data = json.loads(Path(annotations).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"caption annotations {annotations}: cannot read JSON ({e})") from None
    refs: dict[str, list[str]] = {}
    if isinstance(data, dict) and "sentences" in data:
        for s in data["sentences"]:
            refs.setdefault(str(s["video_id"]), []).append(str(s["caption"]))
    elif isinstance(data, list) and data and "enCap" in data[0]:
        for v in data:
            refs[str(v["videoID"])] = [str(c) for c in v["enCap"]]
    else:
        raise ValueError(f"caption annotations {annotations}: expected MSR-VTT {{'sentences': [...]}} or VATEX "
                         "[{'videoID', 'enCap'}]")
    folder = Path(videos)
    done = 0
    for vid, caps in refs.items():
        if limit is not None and done >= limit:
            return
        path = next((folder / f"{vid}{ext}" for ext in (".mp4", ".avi", ".mkv", ".webm")
                     if (folder / f"{vid}{ext}").is_file()), None)
        if path is None:
            continue  # annotation without its video (partial downloads are common)
        f, t = read_frames(path, frames)
        if f:
            done += 1
            yield Pair(vid, f, t, caps)


def frames_key(frames: Sequence[np.ndarray]) -> str:
    """Content hash of a clip's frames: the OCR cache key (a changed generator cannot reuse stale text)."""
    h = hashlib.blake2b(digest_size=12)
    for f in frames:
        h.update(np.ascontiguousarray(f).data)
    return h.hexdigest()


def attach_ocr(pairs: Sequence[Pair], cache: str | Path | None, workers: int = 1) -> list[Pair]:
    """Fill ``Pair.ocr`` with the classic captioner's tesseract lines, read once per clip and kept in
    the JSON ``cache`` (training, SCST and evaluation then reuse them)."""
    from videonav.tools.captioners.ocr_prompt import OcrReader

    path = Path(cache) if cache else None
    known: dict[str, list[str]] = {}
    if path is not None and path.is_file():
        known = json.loads(path.read_text(encoding="utf-8"))
    keys = [frames_key(p.frames) for p in pairs]
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        reader = OcrReader(workers)
        try:
            for j in range(0, len(todo), 64):
                chunk = todo[j:j + 64]
                for i, lines in zip(chunk, reader.lines([pairs[i].frames for i in chunk]), strict=True):
                    known[keys[i]] = lines
        finally:
            reader.close()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known), encoding="utf-8")
    return [replace(p, ocr=known[k]) for p, k in zip(pairs, keys, strict=True)]


def read_frames(path: Path, n: int) -> tuple[list[np.ndarray], list[float]]:
    """``n`` RGB frames spread evenly over a video (decoded with PyAV, nearest frame to each time)."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        dur = float(stream.duration * stream.time_base) if stream.duration else float(c.duration or 0) / 1e6
        want = list(np.linspace(0, max(dur - 0.05, 0), n))
        out: list[np.ndarray] = []
        times: list[float] = []
        for frame in c.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            while want and t >= want[0]:
                out.append(frame.to_ndarray(format="rgb24"))
                times.append(round(t, 2))
                want.pop(0)
            if not want:
                break
    return out, times
