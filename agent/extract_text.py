"""The text side of the extractive reader: words, stems, answer normalisation, template
stripping, and the cutting of read texts into units (fields, parts, sentences).

Split from :mod:`videonav.agent.extract` so each stays small; nothing here knows about scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STOP = frozenset("""a an the and or but of to in on at by for from with without into onto over under about as is are
was were be been being am do does did done has have had having it its this that these those there here then than
so such not no yes can could will would shall should may might must i you he she we they me him her us them my your
his our their what which who whom whose where when why how whats whos one ones some any all each every very just also
only again still now today tonight right up down out off s t ll ve re d m""".split())
_WH = frozenset("what which who whom whose where when why how".split())
_AUX = frozenset("is are was were be been do does did has have had can could will would should may might".split())
_NUMERIC_FOCUS = frozenset("number numbers digit digits year years count amount many much age price code score "
                           "total percent".split())
_WH_FOCUS = {"who": "person", "where": "place", "when": "time"}
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]|'(?=[A-Za-z]))*")  # "'GLACIERS 4'" -> GLACIERS, 4
_QUOTED = re.compile(r'"([^"]+)"([^";.]{0,40})')
_SENT = re.compile(r"(?<=[.!?])\s+")
_PAREN = re.compile(r"\([^)]*\)")
_TEMPLATE = re.compile(
    r"^\s*(?:(?:the\s+)?(?:final\s+|short\s+)?answer(?:\s+to\s+(?:the|this|your)\s+question)?\s*(?:is|would\s+be)?"
    r"\s*[:\-]?|based\s+on\s+(?:the|what)[^,:]*[,:]|according\s+to\s+[^,:]*[,:])\s*", re.I)
_LABEL = re.compile(r"^[A-Z][A-Za-z-]*(?: [a-z]+)?:\s+(?=\S)")  # 'On-screen text: ', 'Speech: ' (caption labels)
_CITE = re.compile(r"\[?\b((?:root|\d+(?:\.\d+)*))\b\]?")
_NODES_TAG = re.compile(r"<nodes>(.*?)(?:</nodes>|$)", re.S | re.I)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*(?:</answer>|$)", re.S | re.I)


def stem(word: str) -> str:
    """Lower-case, light plural/-ing/-ed folding so 'speaking' meets 'speaks'.

    >>> [stem(w) for w in ["Speaking", "speaks", "slides", "NUMBER", "Kyiv's", "shown"]]
    ['speak', 'speak', 'slide', 'number', 'kyiv', 'shown']
    """
    w = word.lower().removesuffix("'s")
    for suf in ("ing", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3 and not w.endswith("ss"):
            if suf == "es" and not w[:-2].endswith(("s", "x", "z", "ch", "sh")):
                continue  # 'slides' -> 'slide' (the 's' rule), 'boxes' -> 'box'
            return w[: -len(suf)]
    return w


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: the form answers are compared in.

    >>> normalise('  "Kyiv", today!  NUMBER-8639 ')
    'kyiv today number 8639'
    """
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def contains_truth(answer: str, truth: str) -> bool:
    """The normalised truth string occurs, on word boundaries, in the normalised answer.

    >>> contains_truth("The reporter is in Kyiv.", "KYIV"), contains_truth("8639", "863"), contains_truth("x", "")
    (True, False, False)
    """
    t = normalise(truth)
    return bool(t) and f" {t} " in f" {normalise(answer)} "


def strip_template(text: str) -> str:
    """Drop answer-template prefixes and wrapping quotes a small model likes to emit.

    >>> strip_template('The answer to the question is: "Kyiv".')
    'Kyiv'
    >>> strip_template("Answer: 8639"), strip_template("The answer to the question is:")
    ('8639', '')
    """
    t = _ANSWER_TAG.search(text)
    s = (t.group(1) if t else text).strip()
    s = _NODES_TAG.sub("", s)
    prev = None
    while prev != s:
        prev = s
        s = _TEMPLATE.sub("", s, count=1).strip().rstrip(".").strip("\"'`*").strip()  # '"Kyiv".' -> 'Kyiv'
        s = _LABEL.sub("", s, count=1)
    return s.rstrip(".").strip()


@dataclass(frozen=True)
class Unit:
    """One answer-bearing piece of a read: a ``|``-part of an on-screen text field (with the
    words after the field, e.g. ``on white``) or one sentence. ``group`` numbers the field or
    sentence it belongs to within the read, ``size`` how many parts that field lists."""

    read: int
    text: str
    segment: str
    sentence: bool  # running text (capitalisation means something) vs an OCR field
    group: int = 0
    size: int = 1


def units_of(text: str, read: int = 0) -> list[Unit]:
    """Quoted fields (split into parts) / speech sentences / other sentences of one read text.

    >>> [(u.text, u.group, u.size) for u in units_of('On-screen text: "INSECTS 1 | NUMBER 8639" on white.')]
    [('INSECTS 1 on white', 0, 2), ('NUMBER 8639 on white', 0, 2)]
    """
    out: list[Unit] = []
    rest = text
    g = 0
    for m in _QUOTED.finditer(text):
        inner, tail = m.group(1).strip(), m.group(2).strip()
        rest = rest.replace(m.group(0), " ", 1)
        if "|" in inner or not re.search(r"[.!?]\s", inner + " ") or inner.isupper():
            parts = [p.strip() for p in inner.split("|") if p.strip()]
            # '(on teal)' after a part annotates it: context for matching, never the answer
            out += [Unit(read, f"{p} {tail}".strip(), _PAREN.sub(" ", p).strip(), False, g, len(parts))
                    for p in parts]
            g += 1
        else:
            for sent in _SENT.split(inner):
                if sent.strip():
                    out.append(Unit(read, sent.strip(), sent.strip(), True, g))
                    g += 1
    for sent in _SENT.split(rest):
        sent = re.sub(r"^\W*[A-Z][a-z-]+( [a-z]+)?:\s*", "", sent.strip())  # 'Scene:', 'On-screen text:' labels
        if _TOKEN.search(sent):
            out.append(Unit(read, sent, sent, True, g))
            g += 1
    return out


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text)


_SHADE = re.compile(r"\b(dark|light|pale|deep|bright)\s+(?=[a-z])", re.I)
_SHADED = re.compile(r"^(dark|light|pale|deep|bright)-", re.I)


def _terms(text: str) -> set[str]:
    """Stems of a text's words, a shade kept with its colour: "on dark red" is not "on red"."""
    return {_stem(w) for w in _words(_SHADE.sub(r"\1-", text))}


def _stem(word: str) -> str:
    return word.lower() if _SHADED.match(word) else stem(word)


def question_terms(question: str) -> tuple[set[str], str, bool]:
    """(content-term stems, focus phrase, expects a number) of a question.

    >>> terms, focus, number = question_terms("What number was shown on the white slide?")
    >>> sorted(terms), focus, number
    (['number', 'shown', 'slide', 'white'], 'number', True)
    >>> question_terms("Which city is the reporter speaking from?")[1:]
    ('city', False)
    """
    toks = [t.lower() for t in _words(_SHADE.sub(r"\1-", question))]
    terms = {_stem(t) for t in toks if t not in _STOP}
    focus: list[str] = []
    for i, t in enumerate(toks):
        if t in _WH:
            if t == "how" and i + 1 < len(toks) and toks[i + 1] in ("many", "much"):
                return terms, "number", True
            for u in toks[i + 1 : i + 3]:
                if u in _AUX or u in _STOP:
                    break
                focus.append(u)
            if not focus:
                focus = [_WH_FOCUS.get(t, "thing")]
            break
    numeric = any(f in _NUMERIC_FOCUS for f in focus)
    return terms, " ".join(focus) or "thing", numeric
