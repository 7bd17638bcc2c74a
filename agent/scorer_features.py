"""Co-occurrence features: is an option stated *together with* what the question is about?

Embedding similarity says an option is on topic; it cannot say that "8639" is the number shown
on the *white* slide when five numbers were read. These features read the options against the
evidence in generic text units, so they mean the same on any dataset:

* a **unit** is one sentence, subtitle cue or on-screen-text field of a read text (a read text is
  split at sentence ends and at ``;``, which separates on-screen-text fields in the captions);
  a **text** is one whole read (a leaf caption, a subtitle line, a part summary);
* the question's **terms** are its content words (stemmed) plus exact phrases: quoted words,
  capitalised names after the first word, and numbers. Each term is weighted by its rarity among
  the read units (IDF), so "white" (one slide) counts more than "number" (every slide); a term
  no unit holds weighs 0 (it cannot tell units apart);
* the **coverage** of a unit for option *i* is the IDF-weighted share of the question's terms it
  contains, leaving out terms the option itself repeats (an option that only echoes the question
  gets no support from itself).

Matching is on token boundaries: "863" never matches "8639", "art" never matches "party".
Numbers, names and quoted words must match exactly; other words match after crude stemming.

Features of option *i* (``COOC_FEATURES``), all finite and 0 when nothing was read:

* ``opt_exact_any``: the option's tokens occur, contiguous, in some unit (1/0).
* ``cooc_exact``: best coverage among units holding the option exactly.
* ``cooc_norm``: best (coverage x share of the option's stems in the unit) over units.
* ``cooc_text``: the same over whole texts (a chapter name and a spoken word in one leaf).
* ``cooc_prec``: in the unit that gave ``cooc_norm``, the share of its other words that are
  question terms (the tighter the unit, the likelier it is about the question).
* ``cooc_share``: ``cooc_norm`` over its sum across options (is the support exclusive?).
* ``order``: questions with after/next/before/previous: the first option met after (before) the
  unit that best covers the question scores 1, the second 1/2, ...; echoes of the question
  score 0.
* ``o_in_q``: share of the option's stems that the question already contains.
* ``opt_count``: log(1 + units holding all of the option's stems).

Two helpers make the scorer behave on data it was not fitted on (egocentric narrations,
EgoSchema-style whole-activity questions): :func:`normalise_narration` rewrites Ego4D-style
"#C C picks up the knife" narrations as plain sentences ("someone" for the camera wearer, a
stop word, so "C" is no content word), and :func:`whole_video` says whether a question asks about
the whole video ("What is the overall goal of C's actions?") rather than one moment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from videonav.agent.colours import colour_misses, colour_refs, tokens

COOC_FEATURES = ["opt_exact_any", "cooc_exact", "cooc_norm", "cooc_text", "cooc_prec", "cooc_share", "order",
                 "o_in_q", "opt_count"]

_STOP = frozenset(
    "a an the and or of to in on at with for by from up down into onto out over under is are was were be "
    "been being it its his her their them they he she him his i you we this that these those there here "
    "as so do does did doing done not no some something someone one two while when after before then "
    "what why how who which where other another each very s".split())
_UNIT_SPLIT = re.compile(r"(?<=[.!?])\s+|;\s*")
_QUOTED = re.compile(r"\"([^\"]+)\"|(?:^|(?<=[\s(]))'([^']+)'(?=[\s?.,!;:)]|$)")
_CAPITAL = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][A-Za-z0-9]*(?:\s+[A-Z0-9][A-Za-z0-9]*)*)")
_AFTER = frozenset("after next following then later afterwards subsequent".split())
_BEFORE = frozenset("before previous prior earlier preceding".split())


_NARR_MARK = re.compile(r"#\s*(?:C|O|unsure)\b\s*", re.I)
_NARR_C = re.compile(r"(?<![\w#])C(?='s\b|’s\b|\b(?![.'’-]\w))")
_WHOLE = re.compile(r"\b(overall|main|mainly|primary|primarily|throughout|entire|whole|summari[sz]\w*|goals?|"
                    r"purposes?|objectives?|overarching|essence|central|general|generally|mostly|recurring|"
                    r"consistent\w*|progress\w*|evolve\w*|theme|aim|intent\w*|accomplish\w*|achieve\w*|"
                    r"significan\w*|importan\w*|critical|essential|key|sequence|strateg\w*|process|pattern\w*|"
                    r"deduce|infer\w*|conclu\w*|characteri[sz]\w*|describe|most|often|frequent\w*|repetitive)\b", re.I)
# words that name no particular thing to look for: a question made only of these is about the whole video
_GENERIC = frozenset("c video clip action activ task person camera wearer behavi describ best happen perform "
                     "focus key most important significant like seem would could can make try trying will "
                     "take into account consider considering all everything deduce infer conclude primari "
                     "objectiv purpos goal main overall throughout entire whole summar interact interaction "
                     "role doing involv engag part".split())


def is_narration(texts: Sequence[str]) -> bool:
    """Whether texts are Ego4D-style narrations (a ``#C`` / ``#O`` marker in some text)."""
    return any(_NARR_MARK.search(t) for t in texts if t)


def normalise_narration(text: str, who: str = "someone") -> str:
    """Plain sentences from Ego4D-style narration: markers become sentence breaks, "C" ``who``.

    The camera wearer "C" is in every narration and every option, so as a word it tells
    nothing: the word features read "someone" (a stop word); the embedder is given "the
    person" (``who``), which read as English beats "C" and "someone" on bench/ego_synth.py.

    >>> normalise_narration("#C C picks up the knife #O a man X talks to C")
    'someone picks up the knife. a man X talks to someone.'
    >>> normalise_narration("C's primary objective is to cook")
    "someone's primary objective is to cook"
    >>> normalise_narration("#c c holds the cup. #C C drinks")
    'someone holds the cup. someone drinks.'
    """
    if _NARR_MARK.search(text):
        parts = [p.strip().rstrip(" .") for p in _NARR_MARK.split(text)]
        text = ". ".join("C" + p[1:] if p[:2] == "c " else p for p in parts if p) + "."
    return _NARR_C.sub(who, text)


def whole_video(question: str) -> bool:
    """Whether the question asks about the whole video (an activity, a goal) rather than a moment.

    Its wording says so ("overall", "main", "throughout", "goal", "summarize"...), or it names
    nothing in particular to look for (no content word beyond generic ones like "C", "video",
    "action"). Such questions are answered by what the video mostly shows, not by the single
    best-matching caption.

    >>> whole_video("What is the overall goal of C's actions?"), whole_video("What is C doing?")
    (True, True)
    >>> whole_video("What did the boy do after he fell?"), whole_video("Which city was named on the red slide?")
    (False, False)
    >>> whole_video("")
    False
    """
    if _WHOLE.search(question):
        return True
    if not tokens(question):  # no question given (a caller that knows only scores)
        return False
    words = {stem(w) for w in tokens(_NARR_C.sub("someone", question)) if w not in _STOP}
    return not (words - _GENERIC_STEMS)


def stem(w: str) -> str:
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


_GENERIC_STEMS = _GENERIC | {stem(g) for g in _GENERIC}  # what whole_video counts as naming nothing


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words minus stop words.

    >>> sorted(content_words("The boys are playing with a ball"))
    ['ball', 'boy', 'play']
    """
    return {stem(w) for w in tokens(text) if w not in _STOP}


def has_phrase(toks: Sequence[str], phrase: Sequence[str]) -> bool:
    """``phrase`` occurs as contiguous whole tokens of ``toks``.

    >>> has_phrase(["number", "8639"], ["863"]), has_phrase(["number", "8639"], ["8639"])
    (False, True)
    """
    n = len(phrase)
    if n == 0 or n > len(toks):
        return False
    first = phrase[0]
    return any(toks[i] == first and list(toks[i:i + n]) == list(phrase) for i in range(len(toks) - n + 1))


@lru_cache(maxsize=200_000)
def _units(text: str) -> tuple[tuple[tuple[str, ...], frozenset[str]], ...]:
    """(tokens, stems) of each unit of one read text; cached, read texts repeat a lot."""
    out = []
    for part in _UNIT_SPLIT.split(text.strip()):
        toks = tuple(tokens(part))
        if toks:
            out.append((toks, frozenset(stem(w) for w in toks if w not in _STOP)))
    return tuple(out)


def question_terms(question: str) -> tuple[set[str], list[tuple[str, ...]]]:
    """(content stems, exact phrases) of a question: quoted words, capitalised names that are not
    the first word, and numbers are exact phrases.

    >>> question_terms("Which city was named on the slide titled 'RAINFORESTS 3'?")[1]
    [('rainforests', '3'), ('3',)]
    """
    phrases: list[tuple[str, ...]] = []
    for m in _QUOTED.finditer(question):
        phrases.append(tuple(tokens(m.group(1) or m.group(2))))
    for m in _CAPITAL.finditer(question):
        phrases.append(tuple(tokens(m.group(1))))
    phrases += [(w,) for w in tokens(question) if any(c.isdigit() for c in w)]
    phrases = [p for p in dict.fromkeys(phrases) if p]
    return content_words(question), phrases


def evidence_gap(question: str, texts: Sequence[str]) -> float:
    """Share of the question's exact phrases (quoted words, names, numbers) that no read text holds.

    A question that names the slide 'SPACE TRAVEL 1' cannot be answered from reads that never
    mention it, however well one option matches them: a part summary that says "speaking from
    Hanoi" supports HANOI only because the slide the question asks about was not read yet.
    The confidence model uses this to keep the planner reading (0 when the question names
    nothing exact, or everything it names was read).

    >>> evidence_gap("Which city was on the slide titled 'SPACE TRAVEL 1'?", ["SPACE TRAVEL 5 | CITY HANOI"])
    1.0
    >>> evidence_gap("Which city was on the slide titled 'SPACE TRAVEL 1'?", ["SPACE TRAVEL 1 | CITY LIMA"])
    0.0
    >>> evidence_gap("What did the boy do after he fell?", ["a boy falls"])
    0.0
    >>> evidence_gap("What number was shown on the orange slide?", ['"INSECTS 5 | NUMBER 8114" on cyan'])
    1.0
    """
    missing, asked = unread_phrases(question, texts)
    return len(missing) / asked if asked else 0.0


def unread_phrases(question: str, texts: Sequence[str]) -> tuple[list[str], int]:
    """(the question's exact phrases no text holds, how many it names): what :func:`evidence_gap`
    counts, as words to look up; a colour comes with the word it qualifies ("white slide").

    >>> unread_phrases("What shape moved across the white slide?", ["A white square on a grey slide."])
    (['white slide'], 1)
    >>> unread_phrases("Which city was on the slide titled 'SPACE TRAVEL 1'?", ["SPACE TRAVEL 5 | CITY HANOI"])
    (['space travel 1'], 1)
    """
    _, phrases = question_terms(question)
    # a colour names which thing is meant ("the orange slide", "the man in white") as exactly, and
    # only as that thing's colour: not as a shape's ink, not with another shade (colour_refs)
    q_toks = tokens(question)
    asked = {tuple(name.split()): (name, ink) for name, ink in colour_refs(q_toks)}
    phrases = phrases + [c for c in asked if c not in phrases]
    if not phrases:
        return [], 0
    toks = [tokens(t) for t in texts if t and t.strip()]
    refs = [set(colour_refs(t)) for t in toks]

    def said(p: tuple[str, ...]) -> bool:
        if p in asked:
            return any(asked[p] in r for r in refs)
        return any(has_phrase(t, p) for t in toks)

    def words(p: tuple[str, ...]) -> str:
        if p not in asked:
            return " ".join(p)
        at = next((i + len(p) for i in range(len(q_toks)) if tuple(q_toks[i:i + len(p)]) == p), len(q_toks))
        return " ".join(p + tuple(q_toks[at:at + 1]))  # "white" -> "white slide"

    # the longest phrases say what is asked; a bare number inside a quoted title is part of it
    longest = [p for p in phrases if not any(len(q) > len(p) and has_phrase(q, p) for q in phrases)]
    return [words(p) for p in longest if not said(p)], len(longest)


def _direction(question: str) -> int:
    w = set(tokens(question))
    return 1 if w & _AFTER else -1 if w & _BEFORE else 0


def cooc_features(question: str, options: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """(n_options, len(COOC_FEATURES)); see the module docstring."""
    n_opt = len(options)
    f = np.zeros((n_opt, len(COOC_FEATURES)), dtype=np.float64)
    col = {name: j for j, name in enumerate(COOC_FEATURES)}
    q_stems, q_phrases = question_terms(question)
    o_toks = [tokens(o) for o in options]
    o_stems = [content_words(o) or {stem(w) for w in t} for o, t in zip(options, o_toks, strict=True)]
    for i, st in enumerate(o_stems):
        if st:
            f[i, col["o_in_q"]] = len(st & q_stems) / len(st)
    texts = [t for t in texts if t and t.strip()]
    per_text = [_units(t) for t in texts]
    units = [u for us in per_text for u in us]
    if not units:
        return f
    n = len(units)
    df_s = {s: 0 for s in q_stems}
    df_p = {p: 0 for p in q_phrases}
    for toks, stems in units:
        for s in q_stems & stems:
            df_s[s] += 1
        for p in q_phrases:
            df_p[p] += has_phrase(toks, p)
    # terms no unit holds say nothing about which unit is relevant: weight 0
    idf = {k: math.log((n + 1) / (v + 0.5)) if v else 0.0 for k, v in df_s.items()}
    idf_p = {k: math.log((n + 1) / (v + 0.5)) if v else 0.0 for k, v in df_p.items()}
    # which question terms each unit / text holds; a question's colour held only as another
    # thing's colour ("a white triangle" for "the white slide") is not held
    coloured = bool(colour_refs(tokens(question)))
    u_hit_s = [(q_stems & stems) - ({stem(c) for c in colour_misses(question, toks)} if coloured else set())
               for toks, stems in units]
    u_hit_p = [{p for p in q_phrases if has_phrase(toks, p)} for toks, _ in units]
    t_hit_s, t_hit_p, t_stems = [], [], []
    k = 0
    for us in per_text:
        t_hit_s.append(set().union(*u_hit_s[k:k + len(us)]))
        t_hit_p.append(set().union(*u_hit_p[k:k + len(us)]))
        t_stems.append(frozenset().union(*(s for _, s in us)))
        k += len(us)

    def coverage(hit_s: set[str], hit_p: set, keep_s: set[str], keep_p: list) -> float:
        tot = sum(idf[s] for s in keep_s) + sum(idf_p[p] for p in keep_p)
        if tot <= 0:
            return 0.0
        return (sum(idf[s] for s in hit_s & keep_s) + sum(idf_p[p] for p in hit_p if p in keep_p)) / tot

    norm = np.zeros((n_opt, n))
    cov_all = [coverage(u_hit_s[j], u_hit_p[j], q_stems, q_phrases) for j in range(n)]
    for i in range(n_opt):
        st, ot = o_stems[i], o_toks[i]
        if not st:
            continue
        keep_s = q_stems - st
        keep_p = [p for p in q_phrases if not (set(p) & set(ot))]
        echo = len(keep_s) < len(q_stems) or len(keep_p) < len(q_phrases)
        best_u = -1
        for j, (toks, stems) in enumerate(units):
            share = len(st & stems) / len(st)
            if share == 0:
                continue
            norm[i, j] = share
            cov = coverage(u_hit_s[j], u_hit_p[j], keep_s, keep_p) if echo else cov_all[j]
            if share * cov > f[i, col["cooc_norm"]]:
                f[i, col["cooc_norm"]], best_u = share * cov, j
            if has_phrase(toks, ot):
                f[i, col["opt_exact_any"]] = 1.0
                f[i, col["cooc_exact"]] = max(f[i, col["cooc_exact"]], cov)
        if best_u >= 0:
            rest = units[best_u][1] - st
            f[i, col["cooc_prec"]] = len(rest & q_stems) / len(rest) if rest else 1.0
        f[i, col["opt_count"]] = math.log1p(float((norm[i] >= 1.0).sum()))
        for j, stems in enumerate(t_stems):
            share = len(st & stems) / len(st)
            if share and share * 1.0 > f[i, col["cooc_text"]]:
                cov = coverage(t_hit_s[j], t_hit_p[j], keep_s, keep_p)
                f[i, col["cooc_text"]] = max(f[i, col["cooc_text"]], share * cov)
    tot = f[:, col["cooc_norm"]].sum()
    if tot > 0:
        f[:, col["cooc_share"]] = f[:, col["cooc_norm"]] / tot
    d = _direction(question)
    if d:
        anchor = int(np.argmax(cov_all))
        if cov_all[anchor] > 0:
            seq = range(anchor + 1, n) if d > 0 else range(anchor - 1, -1, -1)
            rank = 0
            for j in seq:
                met = [i for i in range(n_opt) if norm[i, j] >= 0.5 and f[i, col["order"]] == 0
                       and f[i, col["o_in_q"]] < 1.0]
                if met:
                    rank += 1
                    for i in met:
                        f[i, col["order"]] = 1.0 / rank
    return f
