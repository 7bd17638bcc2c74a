"""Numbered section headings in what was read, and the two questions they answer.

Why: a long video's structure is often on screen as numbered headings (``CHAPTER 3 |
BRIDGES``, ``Part 2: Results``), and part summaries keep every heading in time order with what
was said and shown under it (tools/digest.py). Two kinds of question are about that structure
and are not answered by word overlap, because every candidate shares the question's words
equally:

* order: "Which chapter comes right after the chapter on Bridges?" -> the topic of the
  heading numbered one more than Bridges' (one less for before/previous);
* scope: "What secret word was said during the chapter on Bridges?" -> only what lies after
  the Bridges heading and before the next heading, within the read that shows them both.

Units are the extractive reader's (:func:`videonav.agent.extract_text.units_of`), in reading
order; headings are on-screen fields whose first part is a section word and a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from videonav.agent.extract_text import Unit, normalise
from videonav.tools.digest import SECTION_WORDS

_HEAD = re.compile(rf"^\s*(?:{SECTION_WORDS})\s+(\d+|[ivxlc]+)\s*[:.\-]?\s*(.*)$", re.I)
_NAMED = r"(?:on|about|called|titled|named)\s+(?:the\s+)?[\"']?(.+?)[\"']?\s*[?.!]*\s*$"
_ORDER_Q = re.compile(rf"\b(after|following|next|before|preceding|previous)\s+(?:to\s+)?the\s+(?:{SECTION_WORDS})"
                      rf"\s+{_NAMED}", re.I)
_SCOPE_Q = re.compile(rf"\b(?:during|in|within|throughout)\s+the\s+(?:{SECTION_WORDS})\s+{_NAMED}", re.I)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _number(tok: str) -> int | None:
    if tok.isdigit():
        return int(tok)
    vals = [_ROMAN.get(c) for c in tok.lower()]
    if not vals or None in vals:
        return None
    total = 0
    for a, b in zip(vals, [*vals[1:], 0], strict=True):
        assert a is not None and b is not None
        total += -a if a < b else a
    return total


@dataclass(frozen=True)
class Heading:
    """A numbered heading: its number, its topic text as shown, and where it was read
    (``read`` index, ``first``/``last`` unit indices of its field in reading order)."""

    number: int
    topic: str
    read: int
    first: int
    last: int


def headings(units: Sequence[Unit], skip: frozenset[int] = frozenset()) -> list[Heading]:
    """Every numbered heading among ``units`` (reading order), leaving out reads in ``skip``
    (texts not in time order, whose ``|``-joined lines are no fields: a clip QA's ranked lines).

    >>> from videonav.agent.extract_text import units_of
    >>> us = units_of('On-screen text: "CHAPTER 2 | INSECTS" on teal; "INSECTS 1 | NUMBER 12" on red.')
    >>> [(h.number, h.topic, h.first, h.last) for h in headings(us)]
    [(2, 'INSECTS', 0, 1)]
    """
    out: list[Heading] = []
    k = 0
    while k < len(units):
        u = units[k]
        j = k
        while j + 1 < len(units) and units[j + 1].read == u.read and units[j + 1].group == u.group:
            j += 1
        m = None if u.sentence or u.read in skip else _HEAD.match(u.segment)
        if m:
            num = _number(m.group(1))
            # the heading's own words ("Part 2: Results"), else the field's next part ("CHAPTER 2 | INSECTS")
            topic = m.group(2).strip() or (units[k + 1].segment.strip() if j > k else "")
            if num is not None and topic:
                out.append(Heading(num, topic, u.read, k, j))
        k = j + 1
    return out


def _same(topic: str, name: str) -> bool:
    """Whether a heading's topic is the section the question names ("Coral Reefs" ~ "CORAL REEFS")."""
    a, b = normalise(topic), normalise(name)
    return bool(a) and bool(b) and (a == b or a.startswith(b + " ") or b.startswith(a + " "))


def named(question: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    m = pattern.search(question)
    if not m:
        return None
    return (m.group(1).lower(), m.group(2)) if m.lastindex == 2 else ("", m.group(1))


def adjacent(question: str, units: Sequence[Unit], skip: frozenset[int] = frozenset()) -> Heading | None:
    """For "the chapter right after (before) the chapter on X": the read heading numbered one
    more (less) than X's, when both were read; else None.

    >>> from videonav.agent.extract_text import units_of
    >>> us = units_of('On-screen text: "CHAPTER 6 | CASTLES"; "CASTLES 2 | NUMBER 8"; "CHAPTER 7 | BIRDS".')
    >>> adjacent("Which chapter comes right after the chapter on Castles?", us).topic
    'BIRDS'
    >>> adjacent("Which chapter comes right before the chapter on Castles?", us) is None
    True
    """
    got = named(question, _ORDER_Q)
    if got is None:
        return None
    word, name = got
    step = -1 if word in ("before", "preceding", "previous") else 1
    hs = headings(units, skip)
    anchors = {h.number for h in hs if _same(h.topic, name)}
    if len(anchors) != 1:
        return None
    want = anchors.pop() + step
    found = {normalise(h.topic): h for h in hs if h.number == want}
    return next(iter(found.values())) if len(found) == 1 else None


def scope_name(question: str) -> str | None:
    """The section a "during the chapter on X" question is about ('Coral Reefs'), else None."""
    got = named(question, _SCOPE_Q)
    return got[1] if got else None


def scope(question: str, units: Sequence[Unit], spans: Sequence[tuple[float, float]] | None = None,
          skip: frozenset[int] = frozenset()) -> dict[int, bool]:
    """For "... during the chapter on X": unit index -> whether it lies under X's heading (after
    it, before the next heading). Known for the units after a heading in a time-ordered read, for
    those before a read's first heading when that read shows X's heading later (not under X),
    and for those at the start of a read that continues, in time, a read whose last heading is
    known (``spans`` = each read's (start, end): a part that begins where the previous one
    ended is still in that one's last section). Other units are not in the map.

    >>> from videonav.agent.extract_text import units_of
    >>> us = units_of('On-screen text: "CHAPTER 1 | REEFS". Speech: "The word: owl.". '
    ...               'On-screen text: "CHAPTER 2 | BIRDS". Speech: "The word: elk.".')
    >>> s = scope("What word was said during the chapter on Birds?", us)
    >>> [(us[k].segment, inside) for k, inside in sorted(s.items())]  # doctest: +NORMALIZE_WHITESPACE
    [('CHAPTER 1', False), ('REEFS', False), ('The word: owl.', False), ('CHAPTER 2', False), ('BIRDS', False),
     ('The word: elk.', True)]
    """
    name = scope_name(question)
    if name is None:
        return {}
    hs = headings(units, skip)
    if not any(_same(h.topic, name) for h in hs):
        return {}
    by_read: dict[int, list[int]] = {}
    for k, u in enumerate(units):
        if u.read not in skip:
            by_read.setdefault(u.read, []).append(k)
    starts = {h.first: h for h in hs}
    in_field = {k for h in hs for k in range(h.first, h.last + 1)}
    last = {h.read: h for h in hs}  # each read's last heading (reading order)
    out: dict[int, bool] = {}
    for r, ks in by_read.items():
        current: Heading | None = None  # the section in force at this point of the read
        if spans is not None:
            prev = {normalise(last[p].topic): last[p] for p in last if p != r and abs(spans[p][1] - spans[r][0]) <= 1.0
                    and spans[p][0] < spans[r][0]}
            current = next(iter(prev.values())) if len(prev) == 1 else None
        shows = any(h.read == r and _same(h.topic, name) for h in hs)
        for k in ks:
            current = starts.get(k, current)
            if k in in_field:
                out[k] = False
            elif current is not None:
                out[k] = _same(current.topic, name)
            elif shows:
                out[k] = False  # before X's heading in the read that shows it
    return out
