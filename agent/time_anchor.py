"""Where in the video a question points: "at 07:00", "at the end of the video", "in the last chapter".

Why: users anchor questions in time as often as in content ("What is shown at 12:30?", "What
is the secret word in the last chapter?"). Word overlap cannot find such a moment — "07:00"
occurs in no caption — but the tree knows every node's span. :func:`window` turns the wording
into a time window; the guided planner then prefers the nodes inside it
(:func:`overlap`), and the free-text reader answers from what was read inside it
(:func:`within`), not from a summary of the whole video that also mentions other chapters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from videonav.agent.extract_text import units_of
from videonav.agent.observe import Read
from videonav.agent.sections import headings
from videonav.memory.tree import CaptionTree
from videonav.tools.digest import SECTION_WORDS

_CLOCK = re.compile(r"\b(?:at|around|near|about|by|from)\s+(?:the\s+)?(?:(\d{1,2}):)?(\d{1,2}):([0-5]\d)\b", re.I)
_MINUTE = re.compile(r"\b(?:at|around|near|about)\s+(?:the\s+)?(?:minute\s+(\d+)|(\d+(?:\.\d+)?)\s+min(?:ute)?s?\b)",
                     re.I)
_EDGE = re.compile(r"\b(?:at|in|near|towards?|by)\s+the\s+(?:very\s+)?(end|beginning|start|middle)\s+of\s+the\s+"
                   r"(?:video|clip|recording|film|talk|lecture)\b", re.I)
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
_ORD = re.compile(rf"\b(?:in|during|of|from|within)\s+the\s+({'|'.join(_ORDINALS)}|last|final|opening|closing)\s+"
                  rf"(?:{SECTION_WORDS})\b", re.I)
#: a point in time is read as this many seconds either side
POINT_SLACK = 15.0


def window(question: str, duration: float, sections: Sequence[tuple[float, float]] = ()) -> tuple[float, float] | None:
    """The (start, end) seconds ``question`` points at, or None.

    ``sections`` are the video's top-level spans in time order (the tree's chapters), for
    "the second chapter"; the ends of the video are its first and last tenth.

    >>> window("What is shown at 07:00?", 1200.0)
    (405.0, 435.0)
    >>> window("What happens at the end of the video?", 1200.0)
    (1080.0, 1200.0)
    >>> window("What is the secret word in the last chapter?", 1200.0, [(0, 312), (312, 600), (600, 900), (900, 1200)])
    (900.0, 1200.0)
    >>> window("What number was shown on the white slide?", 1200.0) is None
    True
    """
    t = point(question)
    if t is not None:
        return _point(t, duration)
    m = _EDGE.search(question)
    if m and duration > 0:
        where = m.group(1).lower()
        lo, hi = {"end": (0.9, 1.0), "middle": (0.45, 0.55)}.get(where, (0.0, 0.1))
        return (round(lo * duration, 3), round(hi * duration, 3))
    m = _ORD.search(question)
    if m and sections:
        k = _index(m.group(1))
        if -len(sections) <= k < len(sections):
            a, b = sections[k]
            return (float(a), float(b))
    return None


def point(question: str) -> float | None:
    """The moment "at 07:00" / "at minute 7" names, in seconds, else None.

    >>> point("What is shown at 1:02:03?"), point("What happens around minute 7?"), point("At the end?")
    (3723.0, 420.0, None)
    """
    m = _CLOCK.search(question)
    if m:
        return float(int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)))
    m = _MINUTE.search(question)
    return float(m.group(1) or m.group(2)) * 60.0 if m else None


def edge_of(question: str) -> str | None:
    """'end' / 'beginning' / 'start' / 'middle' for "at the end of the video" and the like, else None."""
    m = _EDGE.search(question)
    return m.group(1).lower() if m else None


def _index(ordinal: str) -> int:
    """'second' -> 1, 'last' -> -1: where an ordinal points in a list of sections."""
    word = ordinal.lower()
    k = {"last": -1, "final": -1, "closing": -1, "opening": 0}.get(word)
    return _ORDINALS.index(word) if k is None else k


def _point(t: float, duration: float) -> tuple[float, float] | None:
    if duration > 0 and t > duration + 1.0:
        return None  # "at 75:00" in a 20-minute video: no such moment
    return (max(0.0, t - POINT_SLACK), min(duration, t + POINT_SLACK) if duration > 0 else t + POINT_SLACK)


def titled_sections(tree: CaptionTree) -> list[tuple[float, float, str]]:
    """The video's sections in time order as (start, end, topic), for "the second chapter": from
    the numbered headings on screen (``CHAPTER 2 | BRIDGES``) in the leaf captions when there are
    two or more, else the tree's top-level nodes (topic ""; their spans are an even split).

    Why headings first: a 60-minute talk with 12 chapters has 4 top-level nodes of 15 minutes;
    "the last chapter" is its last 5 minutes, not its last quarter."""
    if len(tree) <= 1:
        return []
    found: dict[int, tuple[float, str]] = {}
    for leaf in sorted((n for n in tree.nodes() if tree.is_leaf(n.id)), key=lambda n: n.start):
        for h in headings(units_of(leaf.caption or "")):  # the reader's own heading parser
            found.setdefault(h.number, (leaf.start, h.topic))
    order = sorted(found)
    times = [found[k][0] for k in order]
    # a missing first card (chapter 1 unread) still leaves chapter 1 as what comes before card 2
    if order[:1] == [2]:
        order, times = [1, *order], [0.0, *times]
        found[1] = (0.0, "")
    if len(order) >= 2 and order == list(range(1, len(order) + 1)) and times == sorted(times):
        ends = times[1:] + [float(tree.duration)]
        return [(0.0 if i == 0 else a, b, found[k][1].title())
                for i, (k, a, b) in enumerate(zip(order, times, ends, strict=True))]
    return [(c.start, c.end, "") for c in tree.children(tree.root.id)]


def sections(tree: CaptionTree) -> list[tuple[float, float]]:
    """:func:`titled_sections` without the topics."""
    return [(a, b) for a, b, _ in titled_sections(tree)]


def named_question(question: str, tree: CaptionTree) -> str:
    """"... in the eighth chapter?" -> "... during the chapter on Weather?" when the eighth
    heading's topic is known, so that the reader keeps only what lies under that heading
    (agent/sections.py) even inside a summary that runs on into the ninth chapter."""
    m = _ORD.search(question)
    if not m:
        return question
    secs = titled_sections(tree)
    k = _index(m.group(1))
    if not -len(secs) <= k < len(secs) or not secs[k][2]:
        return question
    kind = re.search(rf"(?:{SECTION_WORDS})\b", m.group(0), re.I)
    return question[: m.start()] + f"during the {kind.group(0) if kind else 'chapter'} on {secs[k][2]}" + \
        question[m.end():]


def overlap(span: tuple[float, float], win: tuple[float, float]) -> float:
    """Share of the shorter of ``span`` and ``win`` they have in common (1: one inside the other).

    >>> overlap((0, 300), (290, 320)), overlap((300, 600), (0, 100))
    (0.3333333333333333, 0.0)
    """
    a, b = span
    lo, hi = win
    inter = max(0.0, min(b, hi) - max(a, lo))
    return inter / max(min(b - a, hi - lo), 1e-6)


def tree_window(question: str, tree: CaptionTree) -> tuple[float, float] | None:
    """:func:`window` for a question about ``tree`` (its sections are read only when asked for)."""
    return window(question, float(tree.duration), sections(tree) if _ORD.search(question) else ())


def within(reads: Sequence[Read], win: tuple[float, float] | None) -> list[Read]:
    """The reads that lie mostly inside ``win`` (all of them without a window).

    A wide summary that merely contains the window mostly tells of other moments, so a read is
    kept when at least half of it lies in the window; when none does, the reads that touch it."""
    if win is None:
        return list(reads)
    lo, hi = win
    inside = [r for r in reads if r.text and max(0.0, min(r.end, hi) - max(r.start, lo)) >= 0.5 * (r.end - r.start)]
    if inside:
        return inside
    return [r for r in reads if r.text and r.start <= hi and r.end >= lo] or list(reads)


def anchored(question: str) -> bool:
    """Whether the wording points at a time at all (whatever the video's length).

    >>> anchored("What happens at 1:02:03?"), anchored("In which chapter was 7294 shown?")
    (True, False)
    """
    return any(p.search(question) for p in (_CLOCK, _MINUTE, _EDGE, _ORD))
