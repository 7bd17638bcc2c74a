"""Chapter titles from what the chapter itself shows: its card, else its distinctive terms.

Why: a chapter's topic is what sets it apart from the *other* chapters. A centroid caption of
a lecture chapter is its boilerplate ("Here is part of our look at insects."), and a small LLM
copies raw OCR ("Chapter 1 | INSECTS 1 | NUMBER 8639"). Videos that have chapters usually
announce them on a card: a short on-screen text line at the chapter's start. Both signals are
scored with tf-idf against the other chapters (``tf`` = share of the chapter's units that
contain a term, ``idf = log(1 + K / df)`` over the K chapters), so "CHAPTER 2" loses to
"BRIDGES": every chapter has a "chapter" card but only one is about bridges.

Only the captioners' own field structure is used (``On-screen text: "A | B" on red`` lines,
``Speech:`` sentences; :mod:`videonav.tools.digest`), never a template of one video.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from videonav.tools.digest import STOP, has_fields, parse_fields

_ALPHA = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
CARD_UNITS = 2  # a card is read in the first units of a chapter (a boundary may land one unit early)
CARD_WORDS = 4  # a card line is short
MIN_TF = 0.3  # the card's topic recurs in at least this share of the chapter's units


def terms(text: str) -> set[str]:
    """Alphabetic content words of 3+ letters (numbers are fields, not topics).

    >>> sorted(terms("CHAPTER 2 | BRIDGES of 1900"))
    ['bridges', 'chapter']
    """
    return {w for w in _ALPHA.findall(text.lower()) if len(w) >= 3 and w not in STOP}


class TermStats:
    """Document frequencies of terms over chapters, and term shares within one chapter."""

    def __init__(self, chapters: Sequence[Sequence[str]]) -> None:
        self.k = max(1, len(chapters))
        self.df: Counter[str] = Counter(t for ch in chapters for t in set().union(*map(terms, ch or [""])))

    def idf(self, term: str) -> float:
        return math.log(1 + self.k / max(1, self.df[term]))

    def tfidf(self, units: Sequence[str]) -> dict[str, float]:
        tf: Counter[str] = Counter(t for u in units for t in terms(u))
        n = max(1, len(units))
        return {t: (c / n) * self.idf(t) for t, c in tf.items()}


def _title_case(line: str) -> str:
    words = [w for w in line.split() if not w.isdigit() and w not in "|-:;,."] or line.split()
    return " ".join(w.capitalize() if w.isupper() or w.islower() else w for w in words)


def ocr_lines(caption: str) -> list[str]:
    """The on-screen text lines of a caption (slides split at `` | ``)."""
    return [ln.strip() for f in parse_fields(caption) if f.kind == "text" for ln in f.text.split("|")
            if ln.strip()]


def card_title(units: Sequence[str], stats: TermStats) -> str | None:
    """The chapter's card: a short on-screen line in its first units whose best term is the
    chapter's own (recurring in it, rarer elsewhere); ``None`` when there is no such line.

    >>> ch = ['On-screen text: "CHAPTER 2 | BRIDGES" on blue.', 'On-screen text: "BRIDGES 1 | CITY OSLO" on red.',
    ...       'On-screen text: "BRIDGES 2 | NUMBER 12" on teal.']
    >>> other = ['On-screen text: "CHAPTER 1 | BIRDS" on blue.', 'On-screen text: "BIRDS 1 | NUMBER 7" on red.']
    >>> card_title(ch, TermStats([ch, other]))
    'Bridges'
    """
    n = max(1, len(units))
    tf: Counter[str] = Counter(t for u in units for t in terms(u))
    best: tuple[float, str] | None = None
    for u in units[:CARD_UNITS]:
        for ln in ocr_lines(u):
            ws = terms(ln)
            if not ws or len(ln.split()) > CARD_WORDS:
                continue
            score = max((tf[t] / n) * stats.idf(t) for t in ws)
            top = max(ws, key=lambda t: ((tf[t] / n) * stats.idf(t), t))
            if tf[top] / n < MIN_TF or stats.df[top] >= stats.k > 1:
                continue  # not recurring here, or shown by every chapter ("CHAPTER n")
            # the line's own terms only: "CHAPTER 2 | BRIDGES" -> the "BRIDGES" line
            if best is None or score > best[0] + 1e-9:
                best = (score, ln)
    return _title_case(best[1]) if best else None


def term_title(units: Sequence[str], stats: TermStats, max_words: int = 4) -> str | None:
    """The chapter's most distinctive term, extended to the on-screen or spoken phrase it most
    often stands in ("OCEAN LIFE 3" -> "Ocean Life"); ``None`` without content words."""
    scores = stats.tfidf(units)
    if not scores:
        return None
    top = max(scores, key=lambda t: (scores[t], t))
    phrases: Counter[str] = Counter()
    for u in units:
        for ln in ocr_lines(u) or [u]:
            words = _ALPHA.findall(ln.lower())
            if top not in words:
                continue
            i = words.index(top)
            lo, hi = i, i + 1  # grow while the neighbour is about as distinctive as the top term
            while lo > 0 and scores.get(words[lo - 1], 0.0) >= 0.8 * scores[top] and hi - lo < max_words:
                lo -= 1
            while hi < len(words) and scores.get(words[hi], 0.0) >= 0.8 * scores[top] and hi - lo < max_words:
                hi += 1
            phrases[" ".join(words[lo:hi])] += 1
    phrase = phrases.most_common(1)[0][0] if phrases else top
    return " ".join(w.capitalize() for w in phrase.split())


def fielded(units: Sequence[str]) -> bool:
    """Whether the units carry the captioners' field structure (OCR / speech labels)."""
    return any(has_fields(u) for u in units)
