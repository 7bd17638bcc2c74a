"""Parent captions that keep what questions ask about: distinctive fields, not sibling boilerplate.

Why: a part's caption is what the planner (and the embedding prior) reads to decide where to
go. A centroid summary of the children keeps the sentence *every* child shares ("Here is part
of our look at insects.") and drops the one slide that differs ("NUMBER 8639" on white), which
is exactly what a question names. So a parent's caption is rebuilt from its children's *fields*,
ranked by how rare their words are among the siblings, within a word budget.

Fields are the structure the captioners already emit, nothing template-specific:
``On-screen text: "A | B" on white; "C" on red.`` (one field per quoted slide, with its
background colour), ``Speech: "..."`` (one field per sentence, i.e. per subtitle line),
``Mentions: "..."``; ``Scene: ...`` statistics are dropped (the parent states its own). Text
outside those labels (a VLM's or a dataset's plain sentences) is one field per sentence.

Ranking: a word's weight is ``log(1 + N / df)`` over the N field occurrences of all children
(a field repeated in every child counts N times, so its words weigh ~0); a field's score is the
mean weight of its distinct words. The best fields that fit ``budget`` words are kept and
rendered back in time order with the same labels (interleaved: a heading, then what was said and
shown under it), so every quoted word was in a child caption.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_LABEL = re.compile(r'"[^"]*"|\b(On-screen text|Speech|Mentions|Scene|Answer):')
_QUOTE_TAIL = re.compile(r'"([^"]*)"([^";]*)')
_SENT = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
# an on-screen heading that opens a section: "CHAPTER 3 | BRIDGES", "Part 2: Results", "LESSON 4"
#: words that open a numbered section heading ("CHAPTER 3 | BRIDGES"); agent/sections.py reads the same
SECTION_WORDS = "chapter|part|section|lesson|episode|module|unit|step|act"
_HEADING = re.compile(rf"^\s*({SECTION_WORDS})\s+(\d+|[ivxlc]+)\b", re.I)
MAX_HEADINGS = 24
STOP = frozenset(
    "a an the of on in at to is are was were be been it its this that these those there here and or as "
    "by for with from into onto our we you he she they his her their them i me my us so then than not "
    "no do does did has have had will would can could".split())


@dataclass(frozen=True)
class Field:
    """One unit of a caption: ``kind`` in text | speech | mention | sentence; ``tail`` e.g. ``on white``."""

    kind: str
    text: str
    tail: str = ""

    def words(self) -> int:
        return len(self.text.split()) + len(self.tail.split())

    def terms(self) -> set[str]:
        """Content words of the text, plus the tail as one term ("on dark red" is not "on red")."""
        tail = " ".join(_WORD.findall(self.tail.lower()))
        return content_words(self.text) | ({tail} if tail else set())


def content_words(text: str) -> set[str]:
    """Lower-case words and numbers, function words dropped.

    >>> sorted(content_words("Here is part of our look at insects 12."))
    ['12', 'insects', 'look', 'part']
    """
    return {w for w in _WORD.findall(text.lower()) if w not in STOP}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


def parse_fields(caption: str) -> list[Field]:
    """A caption's fields in reading order.

    >>> parse_fields('On-screen text: "BIRDS 1 | NUMBER 12" on white; "CITY OSLO" on dark red. '
    ...              'Speech: "Hello there. Bye.". Scene: 1 shot, dim.')  # doctest: +NORMALIZE_WHITESPACE
    [Field(kind='text', text='BIRDS 1 | NUMBER 12', tail='on white'), Field(kind='text', text='CITY OSLO',
     tail='on dark red'), Field(kind='speech', text='Hello there.', tail=''), Field(kind='speech',
     text='Bye.', tail='')]
    >>> parse_fields("A man rides a horse. He waves.")
    [Field(kind='sentence', text='A man rides a horse.', tail=''), Field(kind='sentence', text='He waves.', tail='')]
    """
    marks = [(m.start(), m.end(), m.group(1)) for m in _LABEL.finditer(caption) if m.group(1)]
    out: list[Field] = []
    head = caption[: marks[0][0]] if marks else caption
    out += [Field("sentence", s) for s in sentences(head)]
    for i, (_, end, label) in enumerate(marks):
        body = caption[end : marks[i + 1][0] if i + 1 < len(marks) else len(caption)].strip()
        if label == "On-screen text":
            for m in _QUOTE_TAIL.finditer(body):
                tail = m.group(2).strip().rstrip(".;").strip()
                if m.group(1).strip():
                    out.append(Field("text", m.group(1).strip(), tail))
        elif label == "Speech":
            for m in re.finditer(r'"([^"]*)"', body):
                out += [Field("speech", s) for s in sentences(m.group(1))]
        elif label == "Mentions":
            out += [Field("mention", m.group(1)) for m in re.finditer(r'"([^"]*)"', body)]
    return out


def has_fields(caption: str) -> bool:
    """Whether a caption carries the labelled structure (else it is plain sentences)."""
    return any(m.group(1) for m in _LABEL.finditer(caption))


Ranked = list[tuple[Field, float, frozenset[str], int]]


def rank_fields(docs: Sequence[Sequence[Field]]) -> Ranked:
    """Distinct fields of all documents in first-seen order, each with its distinctiveness score and
    its rare terms (those in at most two field occurrences: the names, numbers and colours it adds)
    and the document it first occurs in."""
    first: dict[tuple[str, str], Field] = {}  # one field per text: a spoken line is not also a sentence
    home: dict[Field, int] = {}
    occurrences: list[Field] = []
    for d, doc in enumerate(docs):
        for f in dict.fromkeys(doc):
            occurrences.append(first.setdefault((f.text.lower(), f.tail.lower()), f))
            home.setdefault(occurrences[-1], d)
    df: Counter[str] = Counter(w for f in occurrences for w in f.terms())
    n = max(1, len(occurrences))
    out = []
    for f in dict.fromkeys(occurrences):
        ws = f.terms()
        score = sum(math.log(1 + n / df[w]) for w in ws) / len(ws) if ws else 0.0
        out.append((f, score, frozenset(w for w in ws if df[w] <= 2), home[f]))
    return out


def is_heading(f: Field) -> bool:
    """An on-screen field that opens a numbered section (``CHAPTER 3 | BRIDGES``).

    >>> is_heading(Field("text", "CHAPTER 3 | BRIDGES")), is_heading(Field("text", "BRIDGES 3 | NUMBER 12"))
    (True, False)
    """
    return f.kind == "text" and bool(_HEADING.match(f.text))


def select(ranked: Ranked, budget: int) -> list[Field]:
    """The best-scoring fields that fit ``budget`` words, back in their original order.

    Section headings (:func:`is_heading`, up to ``MAX_HEADINGS``) are kept on top of the budget:
    they are the table of contents of a part, and questions about order ("the chapter right
    after Bridges") and topics need all of them, in time order, not only the rare ones.

    Children take turns (each child's best field, then each one's second best, ...) so every
    child, and so every topic a long parent spans, is represented before any child gets two;
    a field whose rare terms are all in fields already kept ("Our reporter is speaking from
    Oslo today." after "CITY OSLO") is skipped, leaving its words to one that adds something."""
    per_doc: dict[int, list[int]] = {}
    for i in sorted(range(len(ranked)), key=lambda i: (-ranked[i][1], i)):
        per_doc.setdefault(ranked[i][3], []).append(i)
    order = [i for turn in range(max(map(len, per_doc.values()), default=0))
             for i in sorted((ids[turn] for ids in per_doc.values() if turn < len(ids)),
                             key=lambda i: (-ranked[i][1], i))]
    keep = {i for i in range(len(ranked)) if is_heading(ranked[i][0])}
    keep = set(sorted(keep)[:MAX_HEADINGS])
    used, covered = 0, set()
    for i in order:
        if i in keep:
            continue
        f, _, rare, _ = ranked[i]
        if rare and rare <= covered:
            continue
        if used + f.words() <= budget:
            keep.add(i)
            used += f.words()
            covered |= rare
    return [ranked[i][0] for i in sorted(keep)]


def _q(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def render(fields: Sequence[Field]) -> str:
    """Fields back into caption form, in the order given (time order), consecutive fields of one
    kind under one label: ``On-screen text: "CHAPTER 2 | BIRDS" on teal. Speech: "The secret word
    is parrot.". On-screen text: "CHAPTER 3 | BRIDGES" on red.``

    Why interleaved: a part summary spans several sections, and "the secret word during the
    chapter on Birds" is the line said after the Birds heading and before the next one. Listing
    all on-screen text first and all speech after it (as this did before) lost which heading
    a spoken line came under; readers (agent/extract.py) now take every quoted field of a
    summary as time-ordered.

    >>> render([Field("text", "CHAPTER 1 | BIRDS"), Field("speech", "Word: owl."), Field("speech", "Hi."),
    ...         Field("text", "CHAPTER 2 | BRIDGES", "on red")])
    'On-screen text: "CHAPTER 1 | BIRDS". Speech: "Word: owl." "Hi.". On-screen text: "CHAPTER 2 | BRIDGES" on red.'
    """
    parts = []
    runs: list[list[Field]] = []
    for f in fields:
        if runs and runs[-1][0].kind == f.kind:
            runs[-1].append(f)
        else:
            runs.append([f])
    for run in runs:
        kind = run[0].kind
        if kind == "text":
            parts.append("On-screen text: " + "; ".join(_q(f.text) + (f" {f.tail}" if f.tail else "")
                                                        for f in run) + ".")
        elif kind == "speech":
            parts.append("Speech: " + " ".join(_q(f.text) for f in run) + ".")
        elif kind == "mention":
            parts.append("Mentions: " + ", ".join(_q(f.text) for f in run) + ".")
        else:
            parts += [f.text for f in run]
    return " ".join(parts)


def digest(captions: Sequence[str], budget: int = 60) -> str:
    """The children's most distinctive fields within ``budget`` words, as one caption.

    >>> kids = ['On-screen text: "BIRDS 1 | NUMBER 12" on dark blue. Speech: "Here is our look at birds.".',
    ...         'On-screen text: "BIRDS 2 | NUMBER 47" on white. Speech: "Here is our look at birds. '
    ...         'The secret word is parrot.".',
    ...         'On-screen text: "BIRDS 3 | NUMBER 95" on dark blue. Speech: "Here is our look at birds.".']
    >>> digest(kids, budget=12)
    'On-screen text: "BIRDS 2 | NUMBER 47" on white. Speech: "The secret word is parrot.".'
    """
    docs = [parse_fields(c) for c in captions if c and c.strip()]
    return render(select(rank_fields(docs), budget))
