"""Cues as an SRT or WebVTT file (``videonav transcribe -o``), readable back by the subtitle loader.

>>> print(to_srt([Cue(1.0, 2.5, "hello"), Cue(3661.2, 3662.0, "bye")]), end="")
1
00:00:01,000 --> 00:00:02,500
hello
<BLANKLINE>
2
01:01:01,200 --> 01:01:02,000
bye
<BLANKLINE>
>>> to_vtt([Cue(0.0, 1.0, "a")]).splitlines()[:3]
['WEBVTT', '', '00:00:00.000 --> 00:00:01.000']
"""

from __future__ import annotations

from collections.abc import Sequence

from videonav.tools.speech.base import Cue


def stamp(t: float, sep: str = ",") -> str:
    ms = int(round(max(0.0, t) * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _line(text: str) -> str:
    """One line of cue text; a blank line or ``-->`` would end or corrupt the cue."""
    return " ".join(text.split()).replace("-->", "->")


def to_srt(cues: Sequence[Cue]) -> str:
    return "".join(f"{i}\n{stamp(c.start)} --> {stamp(max(c.end, c.start + 0.001))}\n{_line(c.text)}\n\n"
                   for i, c in enumerate(cues, 1))


def to_vtt(cues: Sequence[Cue]) -> str:
    body = "".join(f"{stamp(c.start, '.')} --> {stamp(max(c.end, c.start + 0.001), '.')}\n{_line(c.text)}\n\n"
                   for c in cues)
    return "WEBVTT\n\n" + body


def render(cues: Sequence[Cue], suffix: str) -> str:
    """SRT for ``.srt``, WebVTT for ``.vtt``; anything else is a ValueError naming both."""
    s = suffix.lower()
    if s == ".srt":
        return to_srt(cues)
    if s == ".vtt":
        return to_vtt(cues)
    raise ValueError(f"output must end in .srt or .vtt, not {suffix or '(no suffix)'!r}")
