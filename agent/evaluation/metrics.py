"""Grounding metrics on unions of time intervals (seconds), as pure functions.

Everything is measured on the *union* of spans, never summed per visit: reading a parent and
then its child covers the child's seconds once. (LongVideo-R1 sums per visit, so its
grounding term can exceed 1 and rewards re-reading; these cannot.)
"""

from __future__ import annotations

from collections.abc import Iterable

from videonav.agent.extract import contains_truth

Interval = tuple[float, float]


def union(spans: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping/touching spans into disjoint sorted ones; empty spans vanish.

    >>> union([(5, 8), (0, 2), (1, 3), (8, 9), (4, 4)])
    [(0, 3), (5, 9)]
    """
    out: list[Interval] = []
    for s, e in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return [(int(s) if s.is_integer() else s, int(e) if e.is_integer() else e) for s, e in out]  # type: ignore[misc]


def length(spans: Iterable[Interval]) -> float:
    """Total seconds covered (overlaps once).

    >>> length([(0, 10), (2, 5)])  # nested: the child adds nothing
    10.0
    >>> length([(0, 2), (1, 3)])  # overlapping
    3.0
    """
    return float(sum(e - s for s, e in union(spans)))


def intersection(a: Iterable[Interval], b: Iterable[Interval]) -> float:
    """Seconds covered by both unions.

    >>> intersection([(0, 10), (2, 5)], [(4, 12)])
    6.0
    >>> intersection([(0, 1)], [(2, 3)])  # disjoint
    0.0
    """
    ua, ub = union(a), union(b)
    i = j = 0
    tot = 0.0
    while i < len(ua) and j < len(ub):
        lo, hi = max(ua[i][0], ub[j][0]), min(ua[i][1], ub[j][1])
        if hi > lo:
            tot += hi - lo
        if ua[i][1] < ub[j][1]:
            i += 1
        else:
            j += 1
    return float(tot)


def evidence_recall(visited: Iterable[Interval], truth: Iterable[Interval]) -> float:
    """|visited ∩ truth| / |truth| (1.0 when there is no truth to find).

    >>> evidence_recall([(0, 10), (2, 5)], [(4, 12)])  # parent + child read: counted once
    0.75
    """
    t = list(truth)
    lt = length(t)
    return 1.0 if lt == 0 else intersection(visited, t) / lt


def visited_precision(visited: Iterable[Interval], truth: Iterable[Interval]) -> float:
    """|visited ∩ truth| / |visited| (0.0 when nothing was visited).

    >>> visited_precision([(0, 10), (2, 5)], [(4, 12)])
    0.6
    """
    v = list(visited)
    lv = length(v)
    return 0.0 if lv == 0 else intersection(v, truth) / lv


def f1(p: float, r: float) -> float:
    """
    >>> f1(0.6, 0.75), f1(0, 0)
    (0.6667, 0.0)
    """
    return 0.0 if p + r == 0 else round(2 * p * r / (p + r), 4)


def grounding_f1(visited: Iterable[Interval], truth: Iterable[Interval]) -> float:
    """F1 of visited precision and evidence recall on unions.

    >>> grounding_f1([(0, 10), (2, 5)], [(4, 12)])
    0.6667
    >>> grounding_f1([(20, 30)], [(0, 5)])  # disjoint
    0.0
    """
    v, t = list(visited), list(truth)
    return f1(visited_precision(v, t), evidence_recall(v, t))


def iop(pred: Iterable[Interval], truth: Iterable[Interval]) -> float:
    """Intersection over prediction (NExT-GQA): how much of what is cited is evidence.

    >>> iop([(4, 6)], [(0, 5)]), iop([], [(0, 5)])
    (0.5, 0.0)
    """
    p = list(pred)
    lp = length(p)
    return 0.0 if lp == 0 else intersection(p, truth) / lp


def iou(pred: Iterable[Interval], truth: Iterable[Interval]) -> float:
    """Intersection over union of the two unions.

    >>> iou([(4, 6)], [(0, 5)])
    0.1667
    >>> iou([(0, 5), (1, 2)], [(0, 5)])  # a nested duplicate changes nothing
    1.0
    """
    p, t = list(pred), list(truth)
    inter = intersection(p, t)
    uni = length(p + t)
    return 0.0 if uni == 0 else round(inter / uni, 4)


def acc_gqa(correct: bool, pred: Iterable[Interval], truth: Iterable[Interval], threshold: float = 0.5) -> bool:
    """NExT-GQA grounded accuracy: right answer AND IoP >= threshold.

    >>> acc_gqa(True, [(1, 3)], [(0, 4)]), acc_gqa(True, [(5, 9)], [(0, 4)]), acc_gqa(False, [(1, 3)], [(0, 4)])
    (True, False, False)
    """
    return bool(correct) and iop(pred, truth) >= threshold


def grounding_fields(correct: bool, visited: list[Interval], cited: list[Interval],
                     truth: list[Interval]) -> dict[str, float | bool]:
    """All per-question grounding metrics, as flat top-level fields of an eval record."""
    return {
        "evidence_recall": round(evidence_recall(visited, truth), 4),
        "visited_precision": round(visited_precision(visited, truth), 4),
        "grounding_f1": grounding_f1(visited, truth),
        "iop": round(iop(cited, truth), 4),
        "iou": iou(cited, truth),
        "acc_gqa": acc_gqa(correct, cited, truth),
    }


def text_correct(answer: str, truth: str | None) -> bool:
    """A free-text answer is right when the normalised truth string occurs in the normalised answer
    (case, punctuation and spacing ignored; whole words only, so '863' is not in '8639').

    >>> text_correct('The reporter speaks from "Kyiv" today.', "KYIV"), text_correct("8639", "863")
    (True, False)
    >>> text_correct("not found in what was read", "Kyiv"), text_correct("anything", None)
    (False, False)
    """
    return truth is not None and contains_truth(answer, truth)
