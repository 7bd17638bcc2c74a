"""Subtitles from a sidecar ``.srt``/``.vtt`` file or an embedded text subtitle stream, aligned to spans.

Alignment is by overlap, not by sampled frame: a node gets *every* cue that overlaps its span,
because a 4-frame sample of a 20-second clip would otherwise miss most of what is said.
Cue text is cleaned of markup (``<i>``, ``{\\an8}``) and is data, never instructions: the
captioners quote it.
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videonav.memory.tree import TimedText
from videonav.tools.video.probe import SubtitleError, VideoInfo

SIDECAR_SUFFIXES = (".srt", ".vtt")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")
_WS = re.compile(r"\s+")


def clean_text(text: str) -> str:
    r"""Cue text without markup, on one line.

    >>> clean_text("<i>Hello</i>\n{\\an8}world  ")
    'Hello world'
    """
    return _WS.sub(" ", _TAG.sub("", text)).strip()


def find_sidecar(video: Path | str) -> Path | None:
    """``movie.srt`` / ``movie.vtt`` / ``movie.<lang>.srt`` beside ``movie.mp4``, first match wins."""
    v = Path(video)
    for suf in SIDECAR_SUFFIXES:
        if (cand := v.with_suffix(suf)).is_file():
            return cand
    for suf in SIDECAR_SUFFIXES:
        found = sorted(v.parent.glob(f"{v.stem}.*{suf}"))
        if found:
            return found[0]
    return None


def read_subtitle_file(path: Path | str) -> list[TimedText]:
    """Parse an SRT or WebVTT file; an unreadable one raises :class:`SubtitleError` naming it."""
    import webvtt
    from webvtt.errors import MalformedFileError

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SubtitleError(f"{p}: cannot read subtitle file ({e.strerror}); check the path "
                            "or pass --subtitles") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in raw[:4096]:
            raise SubtitleError(f"{p}: not a text subtitle file (binary data); convert it to .srt or .vtt, "
                                f"e.g. `ffmpeg -i {p.name} out.srt`") from None
        text = raw.decode("latin-1")
    if not text.strip():
        return []
    fmt = "vtt" if text.lstrip().startswith("WEBVTT") or p.suffix.lower() == ".vtt" else "srt"
    try:
        doc = webvtt.from_buffer(io.StringIO(text), format=fmt)  # type: ignore[arg-type]
        cues = [TimedText(start=_secs(c.start), end=_secs(c.end), text=clean_text(c.text))
                for c in doc.captions]
    except (MalformedFileError, ValueError, IndexError, AttributeError) as e:
        raise SubtitleError(f"{p}: malformed {fmt.upper()} subtitles ({e}); fix the file, or remove it "
                            "so the video is indexed without subtitles") from None
    if not cues:
        raise SubtitleError(f"{p}: no subtitle cues found in a non-empty file; is it really {fmt.upper()}?")
    return sorted((c for c in cues if c.text and c.end >= c.start), key=lambda c: (c.start, c.end))


def _secs(stamp: str) -> float:
    """'01:02:03.500' or '02:03,500' -> seconds."""
    parts = stamp.replace(",", ".").split(":")
    out = 0.0
    for x in parts:
        out = out * 60 + float(x)
    return out


def read_embedded(video: Path | str, stream_index: int | None = None) -> list[TimedText]:
    """Cues of a text subtitle stream inside the container (SRT, ASS, mov_text, WebVTT)."""
    import av

    p = Path(video)
    try:
        with av.open(str(p)) as c:
            subs = [s for s in c.streams if s.type == "subtitle"]
            if stream_index is not None:
                subs = [s for s in subs if s.index == stream_index]
            if not subs:
                return []
            s = subs[0]
            out: list[TimedText] = []
            for pkt in c.demux(s):
                if pkt.pts is None or pkt.time_base is None:
                    continue
                start = float(pkt.pts * pkt.time_base)
                end = start + float((pkt.duration or 0) * pkt.time_base)
                for sub in pkt.decode():
                    texts = []
                    for rect in getattr(sub, "rects", None) or [sub]:
                        t = getattr(rect, "text", b"") or b""
                        ass = getattr(rect, "ass", b"") or b""
                        t = t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
                        ass = ass.decode("utf-8", "replace") if isinstance(ass, bytes) else str(ass)
                        texts.append(t or ass.split(",", 8)[-1].replace("\\N", " "))
                    shown_ms = getattr(sub, "end_display_time", 0)
                    if shown_ms and not pkt.duration:
                        end = start + shown_ms / 1000
                    line = clean_text(" ".join(texts))
                    if line:
                        out.append(TimedText(start=start, end=max(end, start + 1e-3), text=line))
    except av.FFmpegError as e:
        raise SubtitleError(f"{p}: embedded subtitle stream unreadable ({e}); "
                            "pass a sidecar with --subtitles") from None
    return sorted(out, key=lambda c: (c.start, c.end))


def load_subtitles(video: Path | str, info: VideoInfo | None = None, path: Path | str | None = None,
                   embedded: bool = True) -> tuple[list[TimedText], str]:
    """Cues and where they came from: an explicit file > a sidecar > the first embedded text stream."""
    if path is not None:
        return read_subtitle_file(path), str(path)
    side = find_sidecar(video)
    if side is not None:
        return read_subtitle_file(side), str(side)
    if embedded and (info is None or info.subtitle_streams):
        cues = read_embedded(video)
        if cues:
            return cues, f"{video}#subtitles"
    return [], ""


CACHE_MIN_CUES = 1000
"""Sidecars with at least this many cues are cached parsed (a 200k-cue file took 15-32 s and 414 MB
to parse on every open of its video); smaller ones parse faster than the cache lookup pays."""


def load_subtitles_cached(video: Path | str, info: VideoInfo | None, path: Path | str | None,
                          get: Callable[[str], Any], put: Callable[[str, Any], None]) -> tuple[list[TimedText], str]:
    """:func:`load_subtitles` with parsed sidecar cues kept under (file, size, mtime) by ``get``/``put``
    (the store's key/value cache): an edited file has a new mtime, so it is parsed again."""
    src = Path(path) if path is not None else find_sidecar(video)
    if src is None or not src.is_file():
        return load_subtitles(video, info, path)
    st = src.stat()
    key = f"subs:{src.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    hit = get(key)
    if isinstance(hit, list):
        return [TimedText(start=a, end=b, text=t) for a, b, t in hit], str(src)
    cues = read_subtitle_file(src)
    if len(cues) >= CACHE_MIN_CUES:
        put(key, [[c.start, c.end, c.text] for c in cues])
    return cues, str(src)


class CueIndex:
    """Every cue overlapping a span, in O(log n + k): cues sorted by start plus a running max end."""

    def __init__(self, cues: Sequence[TimedText]) -> None:
        self.cues = sorted(cues, key=lambda c: (c.start, c.end))
        self._starts = [c.start for c in self.cues]
        self._longest = max((c.end - c.start for c in self.cues), default=0.0)

    def overlapping(self, start: float, end: float) -> list[TimedText]:
        """Cues with ``cue.start < end`` and ``cue.end > start``.

        >>> ix = CueIndex([TimedText(start=0, end=3, text="a"), TimedText(start=2, end=9, text="b"),
        ...                TimedText(start=10, end=11, text="c")])
        >>> [c.text for c in ix.overlapping(4, 10)], [c.text for c in ix.overlapping(9, 10)]
        (['b'], [])
        """
        lo = bisect.bisect_left(self._starts, start - self._longest)
        hi = bisect.bisect_left(self._starts, end)
        return [c for c in self.cues[lo:hi] if c.end > start]


def transcript(cues: Sequence[TimedText], max_chars: int = 1500) -> str:
    """Cue texts joined, consecutive duplicates dropped, capped (long spans keep their start)."""
    out: list[str] = []
    for c in cues:
        if not out or out[-1] != c.text:
            out.append(c.text)
    text = " ".join(out)
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
