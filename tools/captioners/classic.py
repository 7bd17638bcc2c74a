"""The offline CPU captioner: OCR + transcript + scene statistics rendered as a short caption.

Why it exists: no VLM weights are available offline, yet on lectures, slides, screencasts and
news the words on screen and the words spoken carry most of what a question asks about.
It also answers clip QA (a ``describe`` whose prompt wraps a question) by quoting the OCR and
subtitle lines that share words with the question, plus an option found verbatim in them.

Why tesseract runs in batches: starting tesseract (loading its LSTM model) costs ~0.3 s, about
3x the recognition of one 640x360 frame, so :meth:`ClassicCaptioner.describe_batch` feeds many
frames to each tesseract process through a list file, ``ocr_workers`` processes in parallel,
each with ``OMP_THREAD_LIMIT=1`` (tesseract's own threading is slower than one process per core).
Near-identical frames of a request (a static slide) are read once.

OCR and subtitle text are *data*: they appear only inside double quotes, with quotes, markup
and control characters neutralised, so a slide reading ``"ignore previous instructions"`` stays
a quoted string in the caption.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from videonav.memory.tree import Provenance
from videonav.tools.captioners.base import Caption, CaptionContext, CaptionRequest, register_captioner
from videonav.tools.captioners.clip_qa import parse_question
from videonav.tools.children import clean_stale_dirs, die_with_parent, owned_prefix
from videonav.tools.config import CaptionerConfig
from videonav.tools.digest import Field, parse_fields, rank_fields, select
from videonav.tools.digest import render as render_fields
from videonav.tools.embed import BackendUnavailable
from videonav.tools.quoting import quote
from videonav.tools.video.shots import dominant_colour, frame_stats, stats_sentence

RENDER_VERSION = "c5"  # bump when the caption wording changes: part of model_id, hence of every tree key
MIN_CONF = 60.0  # tesseract word confidence below which a "word" is usually texture, not text
PARENT_WORDS = 60  # word budget of a parent's fields: the planner reads up to a dozen captions per turn
DUP_DIFF = 0.02  # mean |luma difference| under which two frames of one request count as the same slide
_WORD = re.compile(r"[a-z0-9]+")
_OPTION = re.compile(r"(?:^|\n|;)\s*\(?[A-Ea-e1-5][).:]\s*([^;\n]+)")  # "A) x; B) y" or one per line
_STOP = set("a an the of on in at to is was were what which who whom whose when where why how did does do "
            "this that these those there it its be been for with from by and or as during after before "
            "shown show seen slide video clip say said".split())


class OCRError(RuntimeError):
    """tesseract failed on a batch; the message carries its stderr."""

    user_error = True


def _gray(img: np.ndarray) -> np.ndarray:
    g = (img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114).astype(np.uint8)
    return np.ascontiguousarray(255 - g if g.mean() < 128 else g)  # tesseract prefers dark text on light


def _thumb(img: np.ndarray) -> np.ndarray:
    return img[:: max(1, img.shape[0] // 36), :: max(1, img.shape[1] // 64)].mean(-1) / 255.0


def parse_tsv(tsv: str, pages: int) -> list[list[str]]:
    """Lines of confident words per page from ``tesseract ... tsv`` output."""
    lines: list[dict[tuple[int, int, int], list[str]]] = [{} for _ in range(pages)]
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        page, conf, word = int(f[1]) - 1, float(f[10]), f[11].strip()
        if 0 <= page < pages and conf >= MIN_CONF and any(ch.isalnum() for ch in word):
            lines[page].setdefault((int(f[2]), int(f[3]), int(f[4])), []).append(word)
    return [[" ".join(ws) for _, ws in sorted(pg.items())] for pg in lines]


class ClassicCaptioner:
    """OCR (tesseract) + subtitles + scene statistics; no weights, deterministic."""

    name = "classic"
    context_free = True  # captions ignore the previous caption: the indexer may batch freely

    def __init__(self, cfg: CaptionerConfig) -> None:
        self.cfg = cfg
        self.prompt_version = cfg.prompt_version
        self.model_id = f"tesseract+stats/{RENDER_VERSION}" if cfg.ocr else f"stats/{RENDER_VERSION}"
        self.tesseract = shutil.which("tesseract") if cfg.ocr else None
        if cfg.ocr and not self.tesseract:
            raise BackendUnavailable("classic captioner: `tesseract` not found; `apt-get install "
                                     "tesseract-ocr`, or set captioner.ocr: false to caption from "
                                     "subtitles and statistics only")
        self._cache: dict[bytes, list[str]] = {}
        clean_stale_dirs("videonav-ocr-")  # left by a killed run
        self._pool = ThreadPoolExecutor(max(1, cfg.ocr_workers), thread_name_prefix="ocr")
        self.ocr_seconds = 0.0
        self.ocr_frames = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- OCR --------------------------------------------------------------------------
    def _run_tesseract(self, images: list[np.ndarray]) -> list[list[str]]:
        with tempfile.TemporaryDirectory(prefix=owned_prefix("videonav-ocr-")) as d:
            paths = []
            for i, img in enumerate(images):
                g = _gray(img)
                p = Path(d) / f"{i:05d}.pgm"
                p.write_bytes(b"P5\n%d %d\n255\n" % (g.shape[1], g.shape[0]) + g.tobytes())
                paths.append(str(p))
            (Path(d) / "list.txt").write_text("\n".join(paths) + "\n")
            env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
            cmd = [str(self.tesseract), str(Path(d) / "list.txt"), "stdout",
                   "--psm", "3", "--dpi", "150", "tsv"]
            out = subprocess.run(cmd, capture_output=True, env=env, check=False, preexec_fn=die_with_parent())
        if out.returncode != 0:
            err = out.stderr.decode(errors="replace")[-300:]
            raise OCRError(f"tesseract failed ({out.returncode}): {err}; "
                           "check `tesseract --version`, or set captioner.ocr: false")
        return parse_tsv(out.stdout.decode("utf-8", "replace"), len(images))

    def ocr(self, groups: Sequence[Sequence[np.ndarray]]) -> list[list[str]]:
        """Text lines of each group of frames (one group per node), deduplicated, in reading order."""
        return [list(dict.fromkeys(ln for _, ls in slides for ln in ls)) for slides in self.slides(groups)]

    def slides(self, groups: Sequence[Sequence[np.ndarray]]) -> list[list[tuple[str, list[str]]]]:
        """Per group, (dominant colour, text lines) of each distinct frame: which text was on which
        background, so a parent can say "NUMBER 4821" was on the red slide."""
        if not self.tesseract:
            return [[(dominant_colour(img), []) for img in frames[:1]] for frames in groups]
        keys_per_group: list[list[tuple[bytes, str]]] = []
        todo: dict[bytes, np.ndarray] = {}
        aliases: dict[bytes, bytes] = {}  # a skipped near-duplicate reads as the frame it duplicates
        for frames in groups:
            keys: list[tuple[bytes, str]] = []
            last: tuple[np.ndarray, bytes] | None = None
            for img in frames:
                k = hashlib.blake2b(np.ascontiguousarray(img).data, digest_size=16).digest()
                th = _thumb(img)
                if last is not None and float(np.abs(th - last[0]).mean()) < DUP_DIFF:
                    if k not in self._cache:
                        aliases[k] = last[1]
                    continue  # the same slide again: read once
                last = (th, k)
                keys.append((k, dominant_colour(img)))
                if k not in self._cache:
                    todo[k] = img
            keys_per_group.append(keys)
        if todo:
            t0 = time.perf_counter()
            items = list(todo.items())
            n = max(1, min(self.cfg.ocr_workers, len(items)))
            chunks = [items[i::n] for i in range(n)]
            results = self._pool.map(lambda c: self._run_tesseract([im for _, im in c]), chunks)
            for chunk, res in zip(chunks, results, strict=True):
                for (k, _), lines in zip(chunk, res, strict=True):
                    self._cache[k] = lines
            self.ocr_seconds += time.perf_counter() - t0
            self.ocr_frames += len(items)
        # aliases are not cached: a later request reading that frame OCRs it itself, so a node's caption
        # does not depend on which requests came before it (a resumed index equals a clean one)
        return [[(colour, self._cache.get(k, [])) for k, colour in keys] for keys in keys_per_group]

    # -- captioning and QA --------------------------------------------------------------
    def describe(self, frames: Sequence[np.ndarray], timestamps: Sequence[float], prompt: str,
                 context: CaptionContext | None = None) -> Caption:
        req = CaptionRequest(frames=tuple(frames), timestamps=tuple(timestamps), prompt=prompt,
                             context=context)
        return self.describe_batch([req])[0]

    def describe_batch(self, requests: Sequence[CaptionRequest]) -> list[Caption]:
        t0 = time.perf_counter()
        ocr0 = self.ocr_seconds
        read = self.slides([r.frames for r in requests])
        ocr_s = (self.ocr_seconds - ocr0) / max(1, len(requests))
        out = []
        for r, slides in zip(requests, read, strict=True):
            lines = list(dict.fromkeys(ln for _, ls in slides for ln in ls))
            ctx = r.context or CaptionContext()
            stats = dict(ctx.scene_stats) if ctx.scene_stats else frame_stats(list(r.frames))
            question = parse_question(r.prompt)
            if question is not None:
                text = answer(question, colour_tagged(slides), ctx, stats)
            else:
                text = render_caption(lines, ctx, stats, slides)
            out.append(Caption(text=text, provenance=Provenance(backend=self.name, model=self.model_id,
                                                                prompt_version=self.prompt_version),
                               frames=len(r.frames), stats={"ocr_seconds": ocr_s, "ocr_lines": len(lines)}))
        per = (time.perf_counter() - t0) / max(1, len(requests))
        return [c.model_copy(update={"seconds": per}) for c in out]


def _mentions(entities: Sequence[str], blob: str) -> list[str]:
    low = blob.lower()
    return [e for e in entities if e.strip() and e.lower() in low]


def colour_tagged(slides: Sequence[tuple[str, list[str]]]) -> list[str]:
    """Text lines with the background they were on, first occurrence only.

    >>> colour_tagged([("red", ["NUMBER 12"]), ("red", ["NUMBER 12"]), ("blue", ["OSLO"])])
    ['NUMBER 12 (on red)', 'OSLO (on blue)']
    """
    return list(dict.fromkeys(f"{ln} (on {colour})" for colour, lines in slides for ln in lines))


def _on_screen(lines: list[str], slides: Sequence[tuple[str, list[str]]] | None) -> str:
    """``"A | B" on red; "C" on blue`` (consecutive frames with the same text merged)."""
    if not slides:
        return quote(" | ".join(lines), 240)
    parts: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for colour, ls in slides:  # one quote per distinct frame: a slide's lines stay with its colour
        new = [ln for ln in ls if ln not in seen]
        seen.update(new)
        if new:
            parts.append((colour, new))
    return "; ".join(f"{quote(' | '.join(ls), 120)} on {colour}" for colour, ls in parts[:8])


def parent_digest(child_captions: Sequence[str], slides: Sequence[tuple[str, list[str]]] | None,
                  budget: int) -> str:
    """A parent's fields: its children's plus any slide its own frames read that no child quoted,
    the most distinctive first (:func:`videonav.tools.digest.digest`), so the one white slide
    and the one spoken secret word survive while every child's shared line is dropped."""
    docs = [parse_fields(c) for c in child_captions if c]
    known = {f.text for doc in docs for f in doc}
    own = [Field("text", quote(" | ".join(ls), 120)[1:-1], f"on {colour}" if colour else "")
           for colour, ls in slides or () if ls]
    docs.append([f for f in own if f.text not in known])
    return render_fields(select(rank_fields(docs), budget))


def render_caption(lines: list[str], ctx: CaptionContext, stats: dict[str, Any],
                   slides: Sequence[tuple[str, list[str]]] | None = None) -> str:
    """``On-screen text: "..." on red. Speech: "...". Scene: ...`` (parents: one quote per slide)."""
    parts = []
    if ctx.child_captions:  # a parent: the distinctive fields of its children (and its own frames)
        parts.append(parent_digest(ctx.child_captions, slides or [("", lines)], PARENT_WORDS))
    elif lines:
        parts.append(f"On-screen text: {_on_screen(lines, slides)}.")
    if ctx.transcript:
        parts.append(f"Speech: {quote(ctx.transcript, 400)}.")
    found = _mentions(ctx.entities, " ".join(lines) + " " + (ctx.transcript or ""))
    if found:
        parts.append("Mentions: " + ", ".join(quote(e, 60) for e in found) + ".")
    if stats:
        parts.append(stats_sentence(stats))
    return " ".join(parts) or "No readable text or speech."


def _tokens(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def answer(question: str, lines: list[str], ctx: CaptionContext, stats: dict[str, Any]) -> str:
    """Clip QA without a model: the evidence lines that share words with the question, best first,
    and an answer when one of the question's options appears verbatim in them."""
    q = _tokens(question)
    speech = [s.strip() for s in re.split(r"(?<=[.!?])\s+", ctx.transcript or "") if s.strip()]
    ranked_ocr = sorted(lines, key=lambda s: -len(q & _tokens(s)))
    ranked_sp = sorted(speech, key=lambda s: -len(q & _tokens(s)))
    options = [o.strip() for o in _OPTION.findall(question) if o.strip()]
    blob = " ".join(lines + speech).lower()
    hits = [o for o in options if len(o) >= 2 and re.search(rf"\b{re.escape(o.lower())}\b", blob)]
    parts = []
    if len(hits) == 1:
        parts.append(f"Answer: {quote(hits[0], 80)}.")
    if ranked_ocr:
        parts.append(f"On-screen text: {quote(' | '.join(ranked_ocr[:4]), 240)}.")
    if ranked_sp:
        parts.append(f"Speech: {quote(' '.join(ranked_sp[:3]), 300)}.")
    if stats:
        parts.append(stats_sentence(stats))
    if not ranked_ocr and not ranked_sp:
        parts.insert(0, "No on-screen text or speech in this clip.")
    return " ".join(parts)


@register_captioner("classic")
def make_classic(cfg: CaptionerConfig) -> ClassicCaptioner:
    return ClassicCaptioner(cfg)
