"""Moment, option-set and question-kind features of the option scorer (``agent/scorer.py``).

The base features say how well an option matches the read texts as a whole or at its single
best caption. Questions about one moment ("what did the dog do *after* going to the cushion")
are answered by the texts *next to* the moment the question names, and an option is better
judged against the other options than alone. These features are generic (any multiple-choice
data with texts in reading order); none depends on the caption style:

**Raw features** (``EXTRA_FEATURES``, computed from embeddings and texts by :func:`extra_features`):

* the **anchor** is the question's moment: a softmax over the read texts of their cosine to the
  question (temperature 0.05; the same weights as ``o_rel``);
* ``o_near``: option-text cosine averaged with the anchor weights spread over a window of
  neighbouring texts (reading order), what happens around the moment;
* ``o_dir``: for after/next (before/previous) questions the same over the texts that follow
  (precede) the anchor, weighted by how likely the anchor lies before (after) them; otherwise
  ``o_near``;
* ``lex_idf``: IDF-weighted share of the option's content words found in the texts (IDF over
  the read texts: a word every caption has counts little);
* ``lex_near``: the same share per text, averaged with the window weights of ``o_near``;
* ``o_cent``: mean cosine of the option to the other options (distractors are often variants
  of one another or of the answer: how central the option is in the option set);
* ``k_causal``, ``k_temporal``, ``k_where``, ``k_count``: the question's kind
  (:func:`question_kinds`), the same for every option (no weight of their own: they gate the
  ``<kind>*f`` features).

**Sentence features** (``SENT_FEATURES``, :func:`sentence_features`): the similarity features
of ``agent/scorer.py`` computed against each *sentence* of the read texts instead of each whole
text. A long caption describes many things at once and its one embedding blurs them; the
sentence that states the answer matches it sharply (on short texts, one sentence each, they
equal the text-level ones): ``s_qo_max`` / ``s_qo_top3`` ("question option" vs sentence),
``s_o_max`` / ``s_o_top3`` (option alone), ``s_contrast`` (each sentence's softmax preference
over the options, weighted by its relevance to the question) and ``s_o_rel``
(relevance-weighted option-sentence cosine).

**Derived features** (:func:`column`; names ``"<transform>:<feature>"``, computed from the
feature matrix of one question, so the fit and the scorer share them):

* ``z:f``: ``f`` z-scored across the question's options (free of the texts' scale);
* ``m:f``: the margin of the option to the best *other* option on ``f``;
* ``r:f``: 1 for the option that is best on ``f``, else 0;
* ``<kind>*f`` for a question kind of :func:`question_kinds` (``causal``, ``temporal``,
  ``where``, ``count``): ``f`` z-scored across options, times the 0/1 kind of the question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from videonav.agent.scorer_features import content_words, tokens

KINDS = ["causal", "temporal", "where", "count"]
EXTRA_FEATURES = ["o_near", "o_dir", "lex_idf", "lex_near", "o_cent"] + [f"k_{k}" for k in KINDS]
SENT_FEATURES = ["s_qo_max", "s_qo_top3", "s_o_max", "s_o_top3", "s_contrast", "s_o_rel"]
_AFTER = frozenset("after next following then afterwards later".split())
_BEFORE = frozenset("before previous prior earlier preceding".split())
_TEMPORAL = _AFTER | _BEFORE | frozenset("when while during as first begin beginning start end ending last "
                                         "finally".split())
_DERIVED = re.compile(r"^(z|m|r|causal|temporal|where|count)[:*](\w+)$")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def question_kinds(question: str) -> np.ndarray:
    """0/1 per kind of ``KINDS``, from the wording alone (no dataset labels).

    >>> question_kinds("why did the boy cry after he fell").tolist()
    [1.0, 1.0, 0.0, 0.0]
    >>> question_kinds("how many dogs are there").tolist(), question_kinds("where is this").tolist()
    ([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0])
    """
    w = tokens(question)
    ws = set(w)
    count = any(a == "how" and b in ("many", "much") for a, b in zip(w, w[1:], strict=False))
    causal = bool(ws & {"why", "reason", "because", "cause", "purpose"}) or ("how" in ws and not count)
    return np.array([causal, bool(ws & _TEMPORAL), "where" in ws, count], dtype=float)


def direction(question: str) -> int:
    """+1 for after/next questions, -1 for before/previous ones, 0 otherwise."""
    ws = set(tokens(question))
    return 1 if ws & _AFTER else -1 if ws & _BEFORE else 0


def window_weights(rel: np.ndarray, half: int) -> np.ndarray:
    """The anchor weights spread over +-``half`` neighbours (reading order), summing to 1."""
    c = np.concatenate([[0.0], np.cumsum(rel)])
    j = np.arange(len(rel))
    w = c[np.minimum(len(rel), j + half + 1)] - c[np.maximum(0, j - half)]
    return w / w.sum()


def extra_features(q: np.ndarray, o: np.ndarray, cap: np.ndarray, options: Sequence[str],
                   texts: Sequence[str], question: str, temp: float = 0.05) -> np.ndarray:
    """(n_options, len(EXTRA_FEATURES)) from L2-normalised embeddings; texts in reading order.

    With no texts only ``o_cent`` and the kinds speak (the others are 0)."""
    n = len(options)
    f = np.zeros((n, len(EXTRA_FEATURES)))
    col = {name: j for j, name in enumerate(EXTRA_FEATURES)}
    f[:, col["k_causal"]:col["k_causal"] + len(KINDS)] = question_kinds(question)
    if n > 1:
        oo = o @ o.T
        f[:, col["o_cent"]] = (oo.sum(axis=1) - np.diag(oo)) / (n - 1)
    m = len(cap)
    if m == 0:
        return f
    s_o = o @ cap.T                                   # (n_opt, m)
    rel = _softmax((cap @ q) / temp)
    near = window_weights(rel, max(1, m // 16))
    f[:, col["o_near"]] = s_o @ near
    d = direction(question)
    if d and m > 1:
        # mass of the anchor strictly before (after) each text, times closeness to it
        before = np.cumsum(rel) - rel if d > 0 else np.cumsum(rel[::-1])[::-1] - rel
        dw = before * window_weights(rel, max(2, m // 8)) * m
        f[:, col["o_dir"]] = s_o @ (dw / dw.sum()) if dw.sum() > 1e-12 else s_o @ near
    else:
        f[:, col["o_dir"]] = f[:, col["o_near"]]
    words = [content_words(t) for t in texts]
    df: dict[str, int] = {}
    for ws in words:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    for i, opt in enumerate(options):
        ow = content_words(opt)
        if not ow:
            continue
        idf = {w: math.log((m + 1) / (df.get(w, 0) + 0.5)) for w in ow}
        tot = sum(idf.values())
        if tot <= 0:
            continue
        f[i, col["lex_idf"]] = sum(v for w, v in idf.items() if df.get(w)) / tot
        per = np.array([sum(v for w, v in idf.items() if w in ws) for ws in words]) / tot
        f[i, col["lex_near"]] = float(per @ near)
    return f


def sentence_features(q: np.ndarray, o: np.ndarray, qo: np.ndarray, sent: np.ndarray,
                      temp: float = 0.05) -> np.ndarray:
    """(n_options, len(SENT_FEATURES)) from L2-normalised embeddings; sent: (n_sent, d) the
    distinct sentences of the read texts (all 0 when there are none)."""
    f = np.zeros((len(o), len(SENT_FEATURES)))
    if len(sent) == 0:
        return f
    s_qo, s_o = qo @ sent.T, o @ sent.T
    k = min(3, len(sent))
    rel = _softmax((sent @ q) / temp)
    pref = np.exp((s_o - s_o.max(axis=0)) / temp)
    pref /= pref.sum(axis=0)
    f[:] = np.stack([s_qo.max(axis=1), np.sort(s_qo, axis=1)[:, -k:].mean(axis=1), s_o.max(axis=1),
                     np.sort(s_o, axis=1)[:, -k:].mean(axis=1), pref @ rel, s_o @ rel], axis=1)
    return f


def _zscore(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """x, mask: (n, k); z-score across the valid options of each row (0 where they agree)."""
    cnt = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    mu = np.where(mask, x, 0.0).sum(axis=1, keepdims=True) / cnt
    sd = np.sqrt(np.where(mask, (x - mu) ** 2, 0.0).sum(axis=1, keepdims=True) / cnt)
    return np.where(mask & (sd > 1e-9), (x - mu) / np.where(sd > 1e-9, sd, 1.0), 0.0)


def column(name: str, X: np.ndarray, names: Sequence[str], mask: np.ndarray | None = None) -> np.ndarray:
    """Feature ``name`` for every option: (n, k). X: (n, k, len(names)) raw features of n questions
    with k option slots (``names``: their columns, the kinds ``k_*`` among them); mask: (n, k)
    valid option slots (default all). ``name`` is raw or derived (module docstring).

    >>> X = np.array([[[1.0], [3.0], [2.0]]])
    >>> column("m:a", X, ["a"]).tolist(), column("r:a", X, ["a"]).tolist()
    ([[-2.0, 1.0, -1.0]], [[0.0, 1.0, 0.0]])
    """
    names = list(names)
    if name in names:
        return X[:, :, names.index(name)]
    hit = _DERIVED.match(name)
    if not hit or hit.group(2) not in names:
        raise ValueError(f"unknown feature {name!r}: expected a raw feature or z:/m:/r:/<kind>* and one")
    op, base = hit.groups()
    x = X[:, :, names.index(base)]
    mask = np.ones(x.shape, dtype=bool) if mask is None else mask
    if op == "z":
        return _zscore(x, mask)
    if op in KINDS:
        return _zscore(x, mask) * X[:, :1, names.index(f"k_{op}")]
    xm = np.where(mask, x, -np.inf)
    srt = np.sort(xm, axis=1)
    best, second = srt[:, -1:], srt[:, -2:-1] if x.shape[1] > 1 else srt[:, -1:]
    is_best = (xm >= best) & mask
    if op == "r":
        return is_best.astype(float) / np.maximum(is_best.sum(axis=1, keepdims=True), 1)
    other = np.where(is_best, second, best)        # the best among the *other* options
    return np.where(mask & np.isfinite(other), x - other, 0.0)
