"""Chapter outputs: JSON, Markdown, a YouTube description list, WebVTT chapters, FFMETADATA.

Each writer returns text and enforces its consumer's rules instead of trusting the
segmenter: YouTube ignores a chapter list unless the first timestamp is 0:00, there are at
least three chapters and each lasts at least 10 s, so :func:`youtube_chapters` merges short
chapters into a neighbour (and splits the longest chapter when fewer than three remain);
WebVTT cue text may not contain ``-->`` or blank lines and escapes ``& < >`` as character
references (a raw ``<`` starts a cue tag, ``&`` an entity); FFMETADATA values escape ``= ; # \\``
and newlines with a backslash, as ffmpeg's metadata demuxer expects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from videonav.agent.chapters.build import Chapter, ChapterError, chapters_to_dict
from videonav.memory.timefmt import clock

FORMATS = ("json", "md", "youtube", "webvtt", "ffmetadata")
YOUTUBE_MIN_CHAPTERS = 3
YOUTUBE_MIN_SECONDS = 10.0


def one_line(text: str) -> str:
    """Collapse whitespace (newlines included) to single spaces.

    >>> one_line(" a\\n\\n b ")
    'a b'
    """
    return re.sub(r"\s+", " ", text).strip()


def _merge(a: Chapter, b: Chapter) -> Chapter:
    """``a`` and ``b`` as one chapter; the longer one keeps its title."""
    keep = a if a.duration >= b.duration else b
    return keep.model_copy(update={"start": a.start, "end": b.end, "sections": [*a.sections, *b.sections],
                                   "node_ids": [*a.node_ids, *b.node_ids],
                                   "summary": one_line(f"{a.summary} {b.summary}")})


def merge_short(chapters: Sequence[Chapter], min_seconds: float) -> list[Chapter]:
    """Merge every chapter shorter than ``min_seconds`` into its shorter neighbour, shortest first."""
    out = list(chapters)
    while len(out) > 1:
        i = min(range(len(out)), key=lambda k: out[k].duration)
        if out[i].duration >= min_seconds - 1e-9:
            break
        if i == 0:
            j = 1
        elif i == len(out) - 1:
            j = i - 1
        else:
            j = i - 1 if out[i - 1].duration <= out[i + 1].duration else i + 1
        a, b = sorted((i, j))
        out[a:b + 1] = [_merge(out[a], out[b])]
    return out


def youtube_chapters(chapters: Sequence[Chapter], duration: float) -> list[Chapter]:
    """Chapters that satisfy YouTube: start at 0, >= 3 chapters, each >= 10 s.

    Raises :class:`ChapterError` when the video is shorter than 30 s (no list can comply).
    """
    if duration < YOUTUBE_MIN_CHAPTERS * YOUTUBE_MIN_SECONDS:
        raise ChapterError(f"YouTube chapters need >= {YOUTUBE_MIN_CHAPTERS} chapters of >= "
                           f"{YOUTUBE_MIN_SECONDS:.0f} s; the video is only {duration:.1f} s long")
    if not chapters:
        raise ChapterError("no chapters to format")
    out = sorted(chapters, key=lambda c: c.start)
    out[0] = out[0].model_copy(update={"start": 0.0})
    out[-1] = out[-1].model_copy(update={"end": max(out[-1].end, duration)})
    out = merge_short(out, YOUTUBE_MIN_SECONDS)
    while len(out) < YOUTUBE_MIN_CHAPTERS:
        i = max(range(len(out)), key=lambda k: out[k].duration)
        c = out[i]
        parts = c.sections if len(c.sections) >= 2 and all(
            s.duration >= YOUTUBE_MIN_SECONDS for s in c.sections) else []
        if not parts:
            mid = (c.start + c.end) / 2
            parts = [c.model_copy(update={"end": mid, "sections": []}),
                     c.model_copy(update={"start": mid, "title": f"{c.title} (continued)", "sections": []})]
        out[i:i + 1] = list(parts)
    return out


def to_json(chapters: Sequence[Chapter], video_id: str, duration: float, **meta: Any) -> str:
    doc = chapters_to_dict(chapters, video_id, duration, **meta)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_markdown(chapters: Sequence[Chapter], video_id: str) -> str:
    lines = [f"# Chapters of {one_line(video_id)}", ""]
    for i, c in enumerate(chapters, start=1):
        lines.append(f"## {i}. {one_line(c.title)} ({clock(c.start)}–{clock(c.end)})")
        lines.append("")
        if c.summary:
            lines += [one_line(c.summary), ""]
        for s in c.sections:
            tail = f": {one_line(s.summary)}" if s.summary else ""
            lines.append(f"- **{clock(s.start)} {one_line(s.title)}**{tail}")
        if c.sections:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_youtube(chapters: Sequence[Chapter], duration: float) -> str:
    """``00:00 Title`` lines (``0:00:00`` style once the video reaches an hour)."""
    yt = youtube_chapters(chapters, duration)
    hours = duration >= 3600
    out = []
    for c in yt:
        stamp = clock(c.start)
        if hours and stamp.count(":") == 1:
            stamp = f"0:{stamp}"
        out.append(f"{stamp} {one_line(c.title)}")
    return "\n".join(out) + "\n"


def vtt_time(t: float) -> str:
    """WebVTT timestamp ``hh:mm:ss.ttt``.

    >>> vtt_time(3725.5)
    '01:02:05.500'
    """
    ms = int(round(max(t, 0.0) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt_escape(text: str) -> str:
    """Cue text with ``&``, ``<`` and ``>`` as character references (so ``-->`` cannot occur either).

    >>> vtt_escape("Q&A <b>live</b> -->")
    'Q&amp;A &lt;b&gt;live&lt;/b&gt; --&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(chapters: Sequence[Chapter]) -> str:
    """A WebVTT chapters track (``<track kind="chapters">``): one cue per chapter, its title as text."""
    out = ["WEBVTT", "Kind: chapters", ""]
    for i, c in enumerate(chapters, start=1):
        title = vtt_escape(one_line(c.title)) or f"Chapter {i}"
        out += [f"chapter-{i}", f"{vtt_time(c.start)} --> {vtt_time(max(c.end, c.start + 0.001))}", title, ""]
    return "\n".join(out)


def ff_escape(text: str) -> str:
    """Escape a value for ffmpeg's FFMETADATA format.

    >>> print(ff_escape("k=v; #1"))
    k\\=v\\; \\#1
    """
    return re.sub(r"([=;#\\\n])", r"\\\1", text)


def to_ffmetadata(chapters: Sequence[Chapter], title: str | None = None) -> str:
    """``;FFMETADATA1`` with one ``[CHAPTER]`` per chapter in milliseconds (``TIMEBASE=1/1000``)."""
    out = [";FFMETADATA1"]
    if title:
        out.append(f"title={ff_escape(title)}")
    out.append("")
    for c in chapters:
        start = int(round(c.start * 1000))
        end = max(int(round(c.end * 1000)), start + 1)
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={end}",
                f"title={ff_escape(c.title)}", ""]
    return "\n".join(out)


def render(fmt: str, chapters: Sequence[Chapter], video_id: str, duration: float, **meta: Any) -> str:
    """Dispatch on a format name from :data:`FORMATS`."""
    if fmt == "json":
        return to_json(chapters, video_id, duration, **meta)
    if fmt == "md":
        return to_markdown(chapters, video_id)
    if fmt == "youtube":
        return to_youtube(chapters, duration)
    if fmt == "webvtt":
        return to_webvtt(chapters)
    if fmt == "ffmetadata":
        return to_ffmetadata(chapters, title=video_id)
    raise ChapterError(f"unknown chapter format {fmt!r}; choose one of {', '.join(FORMATS)}")
