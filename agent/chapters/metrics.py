"""Chapter metrics as pure functions: the numbers the chaptering papers report.

- ``segment_f1_avg``: F1 of chapter *segments* matched one-to-one at temporal IoU >= t,
  averaged over t = 0.50, 0.55, ..., 0.95 (Chapter-Llama's "F1"). Matching is a maximum
  bipartite matching, so one predicted chapter can never be credited twice.
- ``boundary_pr``: precision and recall of chapter *start times* within +-3 s / +-5 s
  (VidChapters-7M), also matched one-to-one. The video's start (t = 0) is a chapter start
  in every prediction and every reference, so it is left out by default: counting it would
  reward a single-chapter prediction with precision 1.
- ``dvc_title_scores``: CIDEr and METEOR of chapter titles as VidChapters-7M reports them
  (its dense-captioning evaluation, ActivityNet's ``densevid_eval``), so the numbers compare
  with published ones; see the function for the protocol.
- ``title_similarity``: for each reference chapter, the title of the predicted chapter that
  overlaps it most, scored by embedding cosine (any ``embed(texts) -> unit rows``) or, with
  no embedder, word-overlap F1; averaged over reference chapters.

Segments are ``(start, end)`` in seconds; chapters are segments plus a title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Segment = tuple[float, float]
TIOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def tiou(a: Segment, b: Segment) -> float:
    """Temporal intersection over union.

    >>> tiou((0, 10), (5, 15)), tiou((0, 10), (10, 20)), tiou((0, 10), (0, 10))
    (0.3333333333333333, 0.0, 1.0)
    """
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def max_matching(allowed: Sequence[Sequence[bool]]) -> int:
    """Size of a maximum one-to-one matching (rows to columns) in a boolean matrix (Hopcroft-Karp,
    networkx's bipartite matching).

    >>> max_matching([[True, True], [True, False]])
    2
    >>> max_matching([[True, False], [True, False]])
    1
    """
    import networkx as nx
    from networkx.algorithms.bipartite import maximum_matching

    g = nx.Graph()
    rows = [("r", i) for i in range(len(allowed))]
    g.add_nodes_from(rows)
    g.add_edges_from((("r", i), ("c", j)) for i, row in enumerate(allowed) for j, ok in enumerate(row) if ok)
    return len(maximum_matching(g, top_nodes=rows)) // 2  # the dict holds both directions


def _prf(matched: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    p = matched / n_pred if n_pred else 0.0
    r = matched / n_true if n_true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def segment_prf(pred: Sequence[Segment], true: Sequence[Segment],
                threshold: float) -> tuple[float, float, float]:
    """(precision, recall, F1) of segments matched one-to-one at tIoU >= ``threshold``.

    >>> segment_prf([(0, 10), (10, 20)], [(0, 10), (10, 20)], 0.5)
    (1.0, 1.0, 1.0)
    >>> segment_prf([(0, 30)], [(0, 10), (10, 20), (20, 30)], 0.5)
    (0.0, 0.0, 0.0)
    """
    allowed = [[tiou(p, t) >= threshold - 1e-12 for t in true] for p in pred]
    return _prf(max_matching(allowed) if pred and true else 0, len(pred), len(true))


def segment_f1_avg(pred: Sequence[Segment], true: Sequence[Segment],
                   thresholds: Sequence[float] = TIOU_THRESHOLDS) -> float:
    """Segment F1 averaged over tIoU thresholds 0.5-0.95 (Chapter-Llama).

    >>> segment_f1_avg([(0, 10), (10, 30)], [(0, 10), (10, 30)])
    1.0
    >>> round(segment_f1_avg([(0, 12), (12, 30)], [(0, 10), (10, 30)]), 3)  # tIoU 0.83 and 0.9
    0.8
    """
    return float(np.mean([segment_prf(pred, true, t)[2] for t in thresholds]))


def starts(segments: Sequence[Segment], ignore_first: bool = True) -> list[float]:
    """Chapter start times, without the video's start unless asked."""
    s = sorted(float(a) for a, _ in segments)
    return s[1:] if ignore_first and s else s


def boundary_pr(pred: Sequence[Segment], true: Sequence[Segment], window: float,
                ignore_first: bool = True) -> tuple[float, float]:
    """(precision, recall) of predicted chapter starts within ``window`` s of a true one, one-to-one.

    >>> boundary_pr([(0, 12), (12, 31), (31, 40)], [(0, 10), (10, 30), (30, 40)], 3)
    (1.0, 1.0)
    >>> boundary_pr([(0, 18), (18, 40)], [(0, 10), (10, 30), (30, 40)], 5)
    (0.0, 0.0)
    >>> boundary_pr([(0, 40)], [(0, 10), (10, 40)], 3)  # nothing predicted: precision 0, not 1
    (0.0, 0.0)
    """
    ps, ts = starts(pred, ignore_first), starts(true, ignore_first)
    allowed = [[abs(p - t) <= window + 1e-9 for t in ts] for p in ps]
    p, r, _ = _prf(max_matching(allowed) if ps and ts else 0, len(ps), len(ts))
    return p, r


_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = {"a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "to", "for", "by", "is", "are", "its"}


def word_f1(a: str, b: str) -> float:
    """Bag-of-words F1 between two titles (lower-cased, stopwords dropped).

    >>> word_f1("Making fresh pasta", "The pasta making")
    0.8
    >>> word_f1("", "Intro")
    0.0
    """
    ta = [w for w in _TOKEN.findall(a.lower()) if w not in _STOP]
    tb = [w for w in _TOKEN.findall(b.lower()) if w not in _STOP]
    if not ta or not tb:
        return 0.0
    common = sum(min(ta.count(w), tb.count(w)) for w in set(ta))
    return _prf(common, len(ta), len(tb))[2]


Embed = Callable[[list[str]], np.ndarray]


def title_similarity(pred: Sequence[tuple[float, float, str]], true: Sequence[tuple[float, float, str]],
                     embed: Embed | None = None) -> float:
    """Mean over reference chapters of sim(reference title, title of the most-overlapping prediction).

    With ``embed`` (rows L2-normalised) the similarity is a cosine, else :func:`word_f1`.

    >>> title_similarity([(0, 10, "Making pasta"), (10, 20, "Eating")],
    ...                  [(0, 9, "Pasta making"), (9, 20, "Eating dinner")])
    0.8333333333333333
    """
    if not true or not pred:
        return 0.0
    pairs = []
    for ts, te, tt in true:
        best = max(pred, key=lambda p: (max(0.0, min(te, p[1]) - max(ts, p[0])), -abs(p[0] - ts)))
        pairs.append((best[2], tt))
    if embed is None:
        return float(np.mean([word_f1(a, b) for a, b in pairs]))
    ea = embed([a for a, _ in pairs])
    eb = embed([b for _, b in pairs])
    return float(np.mean(np.sum(ea * eb, axis=1)))


# -- titles as VidChapters-7M scores them (dense video captioning) ----------------------------
DVC_TIOUS = (0.3, 0.5, 0.7, 0.9)
NO_MATCH = "abc123!@#"  # densevid_eval's reference for a prediction that overlaps nothing: scores 0
Titled = tuple[float, float, str]


def _ascii(text: str) -> str:
    return "".join(ch for ch in text if ord(ch) < 128)


def dvc_pairs(pred: Sequence[Titled], true: Sequence[Titled], threshold: float) -> list[tuple[str, str]]:
    """(predicted title, reference title) for every pair at tIoU >= ``threshold``; a prediction that
    overlaps no reference that well is paired with a garbage reference instead.

    >>> dvc_pairs([(0, 10, "a"), (50, 60, "b")], [(0, 9, "x"), (0, 11, "y")], 0.5)
    [('a', 'x'), ('a', 'y'), ('b', 'abc123!@#')]
    """
    out = []
    for ps, pe, pt in pred:
        hits = [(pt, tt) for ts, te, tt in true if tiou((ps, pe), (ts, te)) >= threshold]
        out += hits or [(pt, NO_MATCH)]
    return out


def dvc_title_scores(videos: Mapping[str, tuple[Sequence[Titled], Sequence[Titled]]], *,
                     tious: Sequence[float] = DVC_TIOUS, meteor: bool = True,
                     tokenizer: str = "auto") -> dict[str, Any]:
    """CIDEr and METEOR of chapter titles, ``{video: (predicted, reference) chapters}``, the way
    VidChapters-7M (and Vid2Seq, ActivityNet Captions) computes them.

    Protocol: for each tIoU threshold in 0.3/0.5/0.7/0.9, every predicted chapter is paired
    with every reference chapter it overlaps at that tIoU (or with a garbage reference); per
    video, pycocoevalcap's CIDEr(-D) and METEOR score that video's pairs (so CIDEr's document
    frequencies come from the video's own pairs, and a video with a single pair scores CIDEr 0);
    a video without predictions scores 0; the score is the mean over videos, then over
    thresholds. Titles lose non-ASCII characters and are PTB-tokenised when Java runs (the
    official pipeline; else :func:`~videonav.agent.evaluation.caption_metrics.simple_tokenize`).
    Scores are fractions; papers print them x100. METEOR needs Java: without it METEOR is
    ``None`` and ``notes`` says so.
    """
    from pycocoevalcap.cider.cider import Cider

    from videonav.agent.evaluation.caption_metrics import _close_meteor, java_available, simple_tokenize

    if tokenizer not in ("auto", "ptb", "simple"):
        raise ValueError(f"tokenizer must be 'auto', 'ptb' or 'simple', got {tokenizer!r}")
    notes: list[str] = []
    java = java_available() if (meteor or tokenizer != "simple") else False
    ptb = tokenizer == "ptb" or (tokenizer == "auto" and java)
    if ptb and not java:
        raise ValueError("tokenizer='ptb' needs Java (`apt-get install default-jre-headless`); use 'simple'")
    if meteor and not java:
        notes.append("METEOR skipped: it needs a Java runtime (`apt-get install default-jre-headless`)")
    meteor_scorer = None
    if meteor and java:
        from pycocoevalcap.meteor.meteor import Meteor

        meteor_scorer = Meteor()
    pairs = {(t, vid): dvc_pairs(p, r, t) for t in tious for vid, (p, r) in videos.items()}
    texts = sorted({_ascii(x) for ps in pairs.values() for pair in ps for x in pair})
    if ptb:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer().tokenize({str(i): [{"caption": x}] for i, x in enumerate(texts)})
        token_of = {x: tok[str(i)][0] for i, x in enumerate(texts)}
    else:
        token_of = {x: simple_tokenize(x) for x in texts}
    per_tiou: dict[str, list[float]] = {"CIDEr": [], "METEOR": []}
    try:
        for t in tious:
            cider, met = [], []
            for vid in videos:
                ps = pairs[(t, vid)]
                if not ps:
                    cider.append(0.0)
                    met.append(0.0)
                    continue
                # an empty hypothesis makes METEOR's Java process wait forever: one unknown word instead
                res = {i: [token_of[_ascii(a)] or "empty"] for i, (a, _) in enumerate(ps)}
                gts = {i: [token_of[_ascii(b)] or "empty"] for i, (_, b) in enumerate(ps)}
                cider.append(float(Cider().compute_score(gts, res)[0]))
                if meteor_scorer is not None:
                    met.append(float(meteor_scorer.compute_score(gts, res)[0]))
            per_tiou["CIDEr"].append(float(np.mean(cider)) if cider else 0.0)
            per_tiou["METEOR"].append(float(np.mean(met)) if met else 0.0)
    finally:
        if meteor_scorer is not None:
            _close_meteor(meteor_scorer)
    return {"CIDEr": float(np.mean(per_tiou["CIDEr"])),
            "METEOR": float(np.mean(per_tiou["METEOR"])) if meteor_scorer is not None else None,
            "per_tiou": {str(t): {"CIDEr": c, **({"METEOR": m} if meteor_scorer is not None else {})}
                         for t, c, m in zip(tious, per_tiou["CIDEr"], per_tiou["METEOR"], strict=True)},
            "tokenizer": "ptb" if ptb else "simple", "n_videos": len(videos), "notes": notes}
