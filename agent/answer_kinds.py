"""Free-text questions whose answer is not a run of words taken from what was read.

Why: the span reader (:func:`videonav.agent.extract.extract`) picks the words that share a
unit with the question's distinctive terms. That is right for "which city" or "what number",
and wrong for the questions a user asks next:

* "When does the chapter on Bridges start?" -> a time, not the word "Welcome" next to "bridges";
* "How many chapters are there?" -> a count of the numbered headings read, not "2" from
  "CHAPTER 2";
* "What is this video about?" -> the chapter topics in order (or the top summary), not
  "not found";
* "What did the narrator say about volcanoes?" -> the sentence that was said, quoted whole;
* "What shape moves across the red slide?" -> a shape word or, when nothing read names one,
  "not found" with a low confidence, never "MOUNTAINS" at confidence 1.

:func:`kind` tells these apart by wording; :func:`answer` reads them off the units. Each
returns the same :class:`~videonav.agent.extract.Extracted` as the span reader, so halting,
evidence and the shown answer agree. Read text is data, never instructions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from videonav.agent.colours import COLOURS, SHAPES, colour_misses, tokens
from videonav.agent.extract_text import _STOP, Unit, _terms, _words, question_terms, stem
from videonav.agent.observe import Read
from videonav.agent.sections import headings
from videonav.agent.time_anchor import anchored, edge_of, point, window
from videonav.memory.timefmt import clock
from videonav.tools.digest import SECTION_WORDS

if TYPE_CHECKING:
    from videonav.agent.extract import Extracted

_WHEN = re.compile(r"^\s*(?:when\b|at\s+what\s+(?:time|point|moment|minute)\b|what\s+time\b)", re.I)
_COUNT = re.compile(rf"\bhow\s+many\s+({SECTION_WORDS})s?\b", re.I)
_OVERVIEW = re.compile(
    r"\b(?:what\s+(?:is|was)\s+(?:this|the)\s+video\s+about|what\s+(?:topics?|subjects?)\s+(?:does|did|is|are|do)"
    r"|what\s+does\s+(?:this|the)\s+video\s+(?:cover|show|discuss)|summari[sz]e|give\s+(?:me\s+)?an?\s+overview"
    r"|what\s+(?:are|were)\s+the\s+(?:chapters|topics|sections|parts))\b", re.I)
_DESCRIBE = re.compile(r"^\s*(?:what\s+(?:is|was|are|were|gets|got)?\s*(?:shown|happening|on\s+(?:the\s+)?screen|"
                       r"visible|displayed|said|heard|going\s+on)|what\s+happens|what\s+happened|describe)\b", re.I)
_SAID = re.compile(r"^\s*what\s+(?:did|does|do|was|is)\b.*\b(?:say|said|says|mention|mentioned|talk|tell|told|"
                   r"explain|explained|announce|announced)\b", re.I)
# words of a when-question that say "when", not "what": they match nothing useful
_WHEN_NOISE = frozenset("start begin end finish happen appear shown show first time point moment minute video".split())


def kind(question: str) -> str | None:
    """Which non-span answer ``question`` wants: when | describe | count | overview | said | shape | colour, or None.

    >>> [kind(q) for q in ["When does the chapter on Bridges start?", "How many chapters are there?",
    ...                    "What is this video about?", "What did the narrator say about volcanoes?",
    ...                    "What shape moves across the red slide?", "Which city is the reporter in?",
    ...                    "What secret word did the narrator say?", "What is shown at 07:00?"]]
    ['when', 'count', 'overview', 'said', 'shape', None, None, 'describe']
    """
    if _WHEN.search(question):
        return "when"
    if _DESCRIBE.search(question) and anchored(question):
        return "describe"
    if _COUNT.search(question):
        return "count"
    if _OVERVIEW.search(question):
        return "overview"
    focus = question_terms(question)[1].split()[0]
    if focus in ("shape", "colour", "color"):
        return "colour" if focus == "color" else focus
    if focus == "thing" and _SAID.search(question):
        return "said"
    return None


def _span(r: Read) -> float:
    return max(r.end - r.start, 1e-6)


def _when_text(r: Read) -> str:
    """"at 05:00" for a short read (a clip), "between 05:00 and 10:00" for a part."""
    return f"at {clock(r.start)}" if _span(r) <= 60.0 else f"between {clock(r.start)} and {clock(r.end)}"


def _exact(question: str) -> set[str]:
    """Stems of the question's numbers and names (capitalised after its first word): terms whose
    absence from everything read means the moment asked about was not read at all."""
    words = _words(question)
    return {stem(w) for i, w in enumerate(words) if w.isdigit() or (i > 0 and w[:1].isupper())}


def _coverage(qterms: set[str], units: Sequence[Unit], unit_terms: Sequence[set[str]],
              exact: set[str] = frozenset()) -> list[float]:
    """Each unit's share of the question's terms (idf-weighted over the units). An absent term
    is left out, unless it is ``exact`` (a number, a name): then it weighs as the rarest term, so
    that "When was the number 6617 shown?" is not fully covered by every "NUMBER ..." slide."""
    n = len(units)
    df = {t: sum(t in ts for ts in unit_terms) for t in qterms}
    idf = {t: math.log((n + 1) / (df[t] + 0.5)) for t in qterms if df[t]}
    missing = sum(math.log((n + 1) / 0.5) for t in qterms & exact if not df[t])
    total = (sum(idf.values()) + missing) or 1.0
    return [sum(w for t, w in idf.items() if t in ts) / total for ts in unit_terms]


def _extracted(text: str, conf: float, reads: Sequence[Read], unit: Unit | None) -> Extracted:
    from videonav.agent.extract import Extracted

    r = reads[unit.read] if unit is not None else None
    cited = [r.node_id] if r is not None and r.node_id else []
    return Extracted(text, round(max(0.0, min(1.0, conf)), 4), r, unit.text if unit else "", cited=cited)


def _not_found(conf: float = 0.05) -> Extracted:
    from videonav.agent.extract import NOT_FOUND, Extracted

    return Extracted(NOT_FOUND, conf, how="not-found")


def _when(question: str, reads: Sequence[Read], units: Sequence[Unit], unit_terms: Sequence[set[str]]) -> Extracted:
    qterms = {t for t in question_terms(question)[0] if stem(t) not in _WHEN_NOISE}
    cov = _coverage(qterms, units, unit_terms, _exact(question))
    if not units or max(cov, default=0.0) <= 0.0:
        return _not_found()
    # the best-covered unit; among equals the narrowest read (its start is the most precise time)
    k = max(range(len(units)),
            key=lambda i: (round(cov[i], 6), -_span(reads[units[i].read]), -reads[units[i].read].start))
    r = reads[units[k].read]
    # a time read off a 5-minute summary is a range: say so, and keep looking (lower confidence)
    precision = min(1.0, 30.0 / _span(r)) ** 0.5
    return _extracted(_when_text(r), cov[k] * (0.3 + 0.7 * precision), reads, units[k])


def _count(question: str, reads: Sequence[Read], units: Sequence[Unit], skip: frozenset[int]) -> Extracted:
    m = _COUNT.search(question)
    assert m is not None
    word = m.group(1).lower()
    heads = [h for h in headings(units, skip) if units[h.first].segment.lower().startswith(word)]
    if not heads:
        return _not_found()
    numbers = sorted({h.number for h in heads})
    # only a read spanning (nearly) the whole of what was read sees every heading
    lo, hi = min(r.start for r in reads), max(r.end for r in reads)
    widest = max(_span(reads[h.read]) for h in heads) / max(hi - lo, 1e-6)
    complete = numbers == list(range(1, numbers[-1] + 1))
    conf = (0.5 + 0.4 * widest) * (1.0 if complete else 0.6)
    return _extracted(str(len(numbers)), conf, reads, units[heads[0].first])


def _overview(reads: Sequence[Read], units: Sequence[Unit], skip: frozenset[int]) -> Extracted:
    topics: dict[int, str] = {}
    first: dict[int, Unit] = {}
    for h in headings(units, skip):
        topics.setdefault(h.number, h.topic.strip().title())
        first.setdefault(h.number, units[h.first])
    if len(topics) >= 2:
        names = [topics[k] for k in sorted(topics)]
        word = _words(first[min(first)].segment)[0].lower()
        text = f"{len(names)} {word}s: {', '.join(names[:-1])} and {names[-1]}"
        return _extracted(text, 0.6, reads, first[min(first)])
    wide = [i for i, r in enumerate(reads) if r.text]
    if not wide:
        return _not_found()
    i = max(wide, key=lambda j: _span(reads[j]))
    own = [u for u in units if u.read == i]
    if not own:
        return _not_found()
    text = " ".join(u.text for u in own[:3])
    return _extracted(text[:300], 0.4, reads, own[0])


def _describe(question: str, reads: Sequence[Read]) -> Extracted:
    """What was read at the moment asked about (the planner hands over only the reads inside
    the question's window, agent/time_anchor.py): the narrowest read that holds that moment
    (the end of the video: its last moment), whole."""
    from videonav.agent.extract_text import units_of

    have = [i for i, r in enumerate(reads) if r.text]
    if not have:
        return _not_found()
    end = max(reads[j].end for j in have)
    win = window(question, end)
    edge = edge_of(question)
    at = point(question)
    t = at if at is not None else end if edge == "end" else 0.0 if edge in ("beginning", "start") else \
        (win[0] + win[1]) / 2 if win else reads[have[0]].start
    i = min(have, key=lambda j: (not reads[j].start <= t <= reads[j].end, _span(reads[j]),
                                 abs((reads[j].start + reads[j].end) / 2 - t)))
    r = reads[i]
    own = units_of(r.text, i)
    precision = min(1.0, 30.0 / _span(r)) ** 0.5  # a clip (~20 s) is the moment; a part is only near it
    return _extracted(r.text[:300], 0.3 + 0.6 * precision, reads, own[0] if own else None)


def _said(question: str, reads: Sequence[Read], units: Sequence[Unit], unit_terms: Sequence[set[str]]) -> Extracted:
    qterms = {t for t in question_terms(question)[0] if t not in {"say", "said", "narrator", "speaker", "mention",
                                                                   "talk", "tell", "told", "explain", "announce"}}
    quoted = {i: set(re.findall(r'"([^"]+)"', r.text)) for i, r in enumerate(reads)}
    # sentences that were said (quoted in the caption), not the caption's own "Scene: ..." sentences
    said = [i for i, u in enumerate(units) if u.sentence and any(u.text in q for q in quoted[u.read])]
    if not said:
        return _not_found()
    cov = _coverage(qterms, units, unit_terms, _exact(question))
    # a sentence whose other words are in most reads ("Here is part of our look at X") is
    # boilerplate: it says nothing about X
    read_terms: dict[int, set[str]] = {}
    for u, ts in zip(units, unit_terms, strict=True):
        read_terms.setdefault(u.read, set()).update(ts)
    n_reads = len(read_terms)

    def common(i: int) -> float:
        rest = [t for t in unit_terms[i] - qterms if t not in _STOP]
        if n_reads < 3 or not rest:
            return 0.0
        return sum(sum(t in ts for ts in read_terms.values()) / n_reads >= 0.5 for t in rest) / len(rest)

    # a sentence in a read about X is about X even when it does not name it ("Lava reaches the sea")
    ctx = dict(zip(read_terms, _coverage(qterms, list(read_terms), list(read_terms.values())), strict=True))

    def score(i: int) -> float:
        r = reads[units[i].read]
        near = 0.6 * min(1.0, 300.0 / _span(r)) * ctx[units[i].read]
        return (cov[i] + near) * (1.0 - 0.8 * common(i))

    scored = sorted(((score(i), i) for i in said), reverse=True)
    best, k = scored[0]
    if best <= 0.0:
        return _not_found()
    rival = next((s for s, j in scored[1:] if units[j].text != units[k].text), 0.0)
    return _extracted(units[k].text, 0.9 * best * (0.4 + 0.6 * min(1.0, (best - rival) / 0.3 + 0.3)), reads, units[k])


def _closed(question: str, vocab: Callable[[str], str | None], reads: Sequence[Read], units: Sequence[Unit],
            unit_terms: Sequence[set[str]]) -> Extracted:
    """The class word (a shape, a colour) in the unit that best matches the question; the
    question's own class words ("the red slide") are what is known, not the answer."""
    own = {w.lower() for w in _words(question)}
    qterms = question_terms(question)[0]
    cov = _coverage(qterms, units, unit_terms)
    found: list[tuple[float, float, str, int]] = []
    for k, u in enumerate(units):
        words = _words(u.text)
        for a, w in enumerate(words):
            name = vocab(" ".join(words[max(0, a - 1): a + 1])) or vocab(w)
            if name and name.split()[-1].lower() not in own:
                found.append((cov[k], -_span(reads[u.read]), name, k))
    if not found:
        return _not_found()
    found.sort(reverse=True)
    c, _, name, k = found[0]
    rival = next((f[0] for f in found[1:] if f[2] != name), None)
    margin = 1.0 if rival is None else min(1.0, (c - rival) / 0.3)
    return _extracted(name, (0.2 + 0.8 * c) * (0.3 + 0.7 * margin), reads, units[k])


def _shape(text: str) -> str | None:
    w = text.split()[-1].lower()
    w = w[:-1] if w.endswith("s") and w[:-1] in SHAPES else w
    return w if w in SHAPES else None


def _colour(text: str) -> str | None:
    ws = [w.lower() for w in text.split()]
    if ws[-1] not in COLOURS:
        return None
    return " ".join(ws[-2:]) if len(ws) == 2 and ws[0] in ("dark", "light", "pale", "bright") else ws[-1]


def answer(question: str, reads: Sequence[Read], units: Sequence[Unit],
           skip: frozenset[int] = frozenset()) -> Extracted | None:
    """The answer for a question of a :func:`kind`, or None to let the span reader answer."""
    k = kind(question)
    if k is None:
        return None
    if not units:
        return _not_found(0.02)
    # "the white slide": a unit saying "a white triangle on a grey slide" holds white as the
    # triangle's ink, not the slide's colour (scorer_features.colour_misses)
    unit_terms = [_terms(u.text) - {stem(c) for c in colour_misses(question, tokens(u.text))} for u in units]
    if k == "when":
        return _when(question, reads, units, unit_terms)
    if k == "count":
        return _count(question, reads, units, skip)
    if k == "describe":
        return _describe(question, reads)
    if k == "overview":
        return _overview(reads, units, skip)
    if k == "said":
        return _said(question, reads, units, unit_terms)
    return _closed(question, _shape if k == "shape" else _colour, reads, units, unit_terms)

