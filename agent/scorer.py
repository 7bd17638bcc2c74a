"""Score multiple-choice options against the captions the planner has read.

The offline answerer is a linear ranker over embedding, lexical and co-occurrence features of
each (question, option, read texts) triple; its weights are fitted on the whole NExT-QA *train*
split plus generated sample videos (generator seeds 100-199) by ``bench/fit_answerer.py`` and
stored in ``agent/scorer_weights.json``. Every feature is computed by :func:`option_features`
from embeddings and the texts, so the fitting script (which caches MiniLM vectors of all
captions) and :class:`OptionScorer` (which embeds the texts it is handed) compute exactly the
same numbers.

Features of option *i* (``FEATURES``; captions = the texts read, sentences = their sentences):

* ``qo_max`` / ``qo_top3``: max / top-3 mean cosine between "question option" and a caption
  (``qo_max`` alone is the plain-similarity baseline, ~43% on NExT-QA; ``bench/fit_answerer.py``
  prints it beside the fitted model).
* ``qo_mean``: mean cosine over all read captions (how on-topic the option is for the video).
* ``o_max``, ``o_top3``, ``o_mean``: the same with the option alone.
* ``o_rel``: option-caption cosine averaged with question-relevance weights
  (softmax over captions of their cosine to the question, temperature 0.05).
* ``contrast`` / ``contrast_u``: per caption, a softmax over the options of their cosine
  (which option does this caption prefer), summed with question-relevance / uniform weights;
  ``contrast_db`` the same on cosines minus ``o_bias``; ``contrast_qdb`` on "question option"
  cosines minus their cosine to the content-free caption.
* ``o_bias``: the option's cosine to a generic, content-free caption (options that match
  every video, e.g. "gesture something", get a learnt penalty).
* ``lex`` / ``lex_s``: share of the option's content words found in the read texts / in the
  best single sentence.
* ``q_o``: question-option cosine (no captions); ``o_len``: option length in words.
* the co-occurrence features of :mod:`videonav.agent.scorer_features` (``COOC_FEATURES``): is the
  option stated in the same sentence / cue / on-screen field / caption as the question's
  distinctive terms (exact match for numbers, names, quoted words; stemmed otherwise)?

* the moment, option-set, question-kind and sentence features of :mod:`videonav.agent.scorer_extra`
  (``EXTRA_FEATURES``, ``SENT_FEATURES``), and the weights may name *derived* features of any of
  these (``"z:qo_max"``: z-scored across the options, ``"m:..."`` margin to the best other
  option, ``"r:..."`` best-option indicator, ``"causal*..."`` gated by the question's kind).

With no texts the caption features are 0 and only ``NO_TEXT_FEATURES`` speak (``o_bias``, ``q_o``,
``o_len``, ``o_in_q``, ``o_cent`` and the question's kind).

**Whole-video questions** (:func:`~videonav.agent.scorer_features.whole_video`: "What is the overall
goal of C's actions?") are scored by a second, smaller model (``"whole_video"`` in the weights):
only features that aggregate over *everything* read (``WHOLE_FEATURES``: mean "question option"
cosine, the uniform caption vote ``contrast_u``, word coverage ``lex``), each z-scored across the
options of the question so its scale does not depend on option length or caption style. The main
model, fitted on questions about one moment, leans on the single best-matching caption; for a
question about the whole activity that caption is usually a distractor's (an interruption, an
object handled in passing). Narration-style texts ("#C C cuts the onion") are rewritten as plain
sentences first (:func:`~videonav.agent.scorer_features.normalise_narration`).
An optional LLM feature (``llm_pmi``: mean log-prob of the option given the top captions
minus given none) is supported when ``llm`` is passed and the weights name it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videonav.agent.extract import _anchor as order_anchor
from videonav.agent.extract import question_terms, reader_vote
from videonav.agent.extract_text import _TOKEN, stem
from videonav.agent.observe import Read
from videonav.agent.scorer_extra import (
    EXTRA_FEATURES,
    KINDS,
    SENT_FEATURES,
    column,
    extra_features,
    sentence_features,
)
from videonav.agent.scorer_features import (
    COOC_FEATURES,
    content_words,
    cooc_features,
    evidence_gap,
    is_narration,
    normalise_narration,
    whole_video,
)
from videonav.tools.embed import Embedder, split_sentences

BASE_FEATURES = ["qo_max", "qo_top3", "qo_mean", "o_max", "o_top3", "o_mean", "o_rel", "contrast", "contrast_u",
                 "contrast_db", "contrast_qdb", "o_bias", "lex", "lex_s", "q_o", "o_len"]
FEATURES = BASE_FEATURES + COOC_FEATURES + EXTRA_FEATURES + SENT_FEATURES
#: the whole-video model's features: aggregates over every read text, no best single match
WHOLE_FEATURES = ["qo_mean", "contrast_u", "lex"]
NO_TEXT_FEATURES = ("o_bias", "q_o", "o_len", "o_in_q", "o_cent") + tuple(f"k_{k}" for k in KINDS)
GENERIC_TEXTS = [
    "The image shows a scene.",
    "The image showcases a person in a room.",
    "There is something in the background.",
]
WEIGHTS_PATH = Path(__file__).with_name("scorer_weights.json")
#: who the camera wearer "C" of a narration is to the embedder (normalise_narration)
PERSON = "the person"
#: logits taken off an option that merely restates an order question's anchor (:func:`anchor_echoes`)
ECHO_PENALTY = 5.0

_WORD = re.compile(r"[a-z0-9]+")
__all__ = ["FEATURES", "WHOLE_FEATURES", "OptionScorer", "content_words", "load_default_scorer", "load_weights",
           "option_features", "option_zscore"]


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _topk_mean(sim: np.ndarray, k: int) -> np.ndarray:
    """sim: (options, n) -> mean of the k largest per row."""
    k = min(k, sim.shape[1])
    return np.sort(sim, axis=1)[:, -k:].mean(axis=1)


def option_zscore(f: np.ndarray) -> np.ndarray:
    """Each column z-scored across the options (axis -2); a column the options share is 0.

    >>> option_zscore(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    m = f.mean(axis=-2, keepdims=True)
    s = f.std(axis=-2, keepdims=True)
    return np.where(s < 1e-9, 0.0, (f - m) / np.where(s < 1e-9, 1.0, s))


def option_features(q: np.ndarray, o: np.ndarray, qo: np.ndarray, generic: np.ndarray,
                    cap: np.ndarray, options: Sequence[str],
                    sent_words: Sequence[set[str]], all_words: set[str],
                    question: str = "", texts: Sequence[str] = (), temp: float = 0.05,
                    sent: np.ndarray | None = None) -> np.ndarray:
    """(n_options, len(FEATURES)) feature matrix from L2-normalised embeddings and the texts.

    q: (d,) question; o / qo: (n_opt, d) option and "question option"; generic: (d,);
    cap: (n_cap, d) read captions; sent_words: content words of each sentence of the
    captions; all_words: their union; question / texts: the strings (co-occurrence features;
    texts in reading order, the ``order`` feature depends on it); sent: (n_sent, d) the distinct
    sentences of the texts (:mod:`videonav.agent.scorer_extra` sentence features; None = cap).
    """
    n = len(options)
    f = np.zeros((n, len(FEATURES)), dtype=np.float64)
    col = {name: j for j, name in enumerate(FEATURES)}
    nb, nc = len(BASE_FEATURES), len(COOC_FEATURES)
    f[:, nb:nb + nc] = cooc_features(question, options, texts)
    ne = len(EXTRA_FEATURES)
    f[:, nb + nc:nb + nc + ne] = extra_features(q, o, cap, options, texts, question, temp)
    f[:, nb + nc + ne:] = sentence_features(q, o, qo, cap if sent is None else sent, temp)
    f[:, col["o_bias"]] = o @ generic
    f[:, col["q_o"]] = o @ q
    f[:, col["o_len"]] = [len(_WORD.findall(t.lower())) for t in options]
    if len(cap) == 0:
        return f
    s_qo, s_o = qo @ cap.T, o @ cap.T                  # (n_opt, n_cap)
    f[:, col["qo_max"]] = s_qo.max(axis=1)
    f[:, col["qo_top3"]] = _topk_mean(s_qo, 3)
    f[:, col["qo_mean"]] = s_qo.mean(axis=1)
    f[:, col["o_max"]] = s_o.max(axis=1)
    f[:, col["o_top3"]] = _topk_mean(s_o, 3)
    f[:, col["o_mean"]] = s_o.mean(axis=1)
    w_c = _softmax((cap @ q) / temp, axis=0)           # question relevance of each caption
    f[:, col["o_rel"]] = s_o @ w_c
    pref = _softmax(s_o / temp, axis=0)                # (n_opt, n_cap): which option each caption prefers
    f[:, col["contrast"]] = pref @ w_c
    f[:, col["contrast_u"]] = pref.mean(axis=1)
    # the same after removing each option's similarity to a content-free caption
    f[:, col["contrast_db"]] = _softmax((s_o - f[:, [col["o_bias"]]]) / temp, axis=0) @ w_c
    f[:, col["contrast_qdb"]] = _softmax((s_qo - (qo @ generic)[:, None]) / temp, axis=0) @ w_c
    for i, opt in enumerate(options):
        ow = content_words(opt)
        if not ow:
            continue
        f[i, col["lex"]] = len(ow & all_words) / len(ow)
        f[i, col["lex_s"]] = max((len(ow & sw) for sw in sent_words), default=0) / len(ow)
    return f


class OptionScorer:
    """One support score per option from the read texts; higher = better.

    ``weights``: ``{"features": {name: weight}, "mean": {...}, "std": {...}, "calib": [a, b],
    "llm": {...}}`` as written by ``bench/fit_answerer.py``; ``None`` = the baseline
    (``qo_max`` alone).
    """

    def __init__(self, embedder: Embedder, llm: Any = None, weights: dict | None = None) -> None:
        self.embedder = embedder
        self.llm = llm
        self.weights = weights or {"features": {"qo_max": 1.0}, "mean": {}, "std": {}, "calib": [10.0, 0.0]}
        self._generic: np.ndarray | None = None

    def _generic_vec(self) -> np.ndarray:
        if self._generic is None:
            g = self.embedder.encode(GENERIC_TEXTS).mean(axis=0)
            self._generic = g / max(float(np.linalg.norm(g)), 1e-9)
        return self._generic

    def features(self, question: str, options: list[str], texts: list[str]) -> np.ndarray:
        texts = [t for t in texts if t and t.strip()]
        eq, eo, et = question, list(options), texts   # what the embedder reads
        if is_narration(texts):  # "#C C cuts the onion": plain sentences on every side
            eq, eo, et = (normalise_narration(question, PERSON), [normalise_narration(o, PERSON) for o in options],
                          [normalise_narration(t, PERSON) for t in texts])
            question, options = normalise_narration(question), [normalise_narration(o) for o in options]
            texts = [normalise_narration(t) for t in texts]
        sents = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
        qv = self.embedder.encode([eq])[0]
        ov = self.embedder.encode(eo)
        qov = self.embedder.encode([f"{eq} {o}" for o in eo])
        cap = self.embedder.encode(et)
        esents = list(dict.fromkeys(s for t in et for s in split_sentences(t)))
        sv = self.embedder.encode(esents) if esents else np.zeros((0, len(qv)))
        sw = [content_words(s) for s in sents]
        return option_features(qv, ov, qov, self._generic_vec(), cap, options, sw,
                               set().union(*sw) if sw else set(), question, texts, sent=sv)

    def whole_model(self, question: str) -> dict | None:
        """The whole-video model's weights when ``question`` is about the whole video, else None."""
        w = self.weights.get("whole_video")
        return w if w and whole_video(question) else None

    def _linear(self, f: np.ndarray, question: str = "") -> np.ndarray:
        sub = self.whole_model(question)
        if sub is not None:
            names = list(sub["features"])
            z = option_zscore(f[:, [FEATURES.index(n) for n in names]])
            return z @ np.asarray([sub["features"][n] for n in names], dtype=float)
        w = self.weights
        out = np.zeros(len(f))
        for name, wt in w["features"].items():  # raw or derived (scorer_extra.column) features
            out += wt * (column(name, f[None], FEATURES)[0] - w["mean"].get(name, 0.0)) / w["std"].get(name, 1.0)
        return out

    def llm_pmi(self, question: str, options: list[str], texts: list[str]) -> np.ndarray:
        """Per-word PMI of each option under the LLM: (log p(option | k most question-relevant
        sentences of the texts, question) - log p(option | question)) / words in the option."""
        k = int(self.weights.get("llm", {}).get("k", 4))
        sents = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
        if sents:
            rel = self.embedder.encode(sents) @ self.embedder.encode([question])[0]
            top = sorted(np.argsort(-rel, kind="stable")[:k])        # keep reading order
            sents = [sents[i] for i in top]
        ctx = " ".join(sents)
        cond = [{"role": "user", "content": f"Video captions: {ctx}\nQuestion: {question}?\nAnswer:"}]
        unc = [{"role": "user", "content": f"Question: {question}?\nAnswer:"}]
        conts = [" " + o for o in options]
        a = np.asarray(self.llm.score(cond, conts), dtype=float)
        b = np.asarray(self.llm.score(unc, conts), dtype=float)
        nw = np.asarray([max(len(o.split()), 1) for o in options], dtype=float)
        return (a - b) / nw

    def score(self, question: str, options: list[str], texts: list[str]) -> np.ndarray:
        """Support score per option (a logit: softmax over options = fitted probabilities).

        An option that only restates the event an order question is anchored on ("Coral Reefs"
        for "Which chapter comes right after the chapter on Coral Reefs?") cannot be its answer
        and is pushed down by ``ECHO_PENALTY`` logits, whatever the texts say about it."""
        if not options:
            return np.zeros(0)
        f = self.features(question, list(options), list(texts))
        s = self._linear(f, question) - ECHO_PENALTY * np.asarray(anchor_echoes(question, list(options)), dtype=float)
        cfg = self.weights.get("llm", {})
        texts = [t for t in texts if t and t.strip()]
        if self.llm is not None and cfg.get("weight", 0.0) and texts:
            p = self.llm_pmi(question, list(options), texts)
            s = s + cfg["weight"] * (p - cfg.get("mean", 0.0)) / cfg.get("std", 1.0)
        return s

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        return _softmax(np.asarray(scores, dtype=float), axis=0) if len(scores) else np.zeros(0)

    def confidence(self, scores: np.ndarray, gap: float = 0.0, question: str = "") -> float:
        """P(the best option is right), a logistic function of the top-two score margin and of
        the evidence gap (:func:`evidence_gap`: what the question names exactly but no read
        holds), both fitted on train; monotone in the margin, in [0, 1]; 0 for no options, 1
        for a single one. A whole-video question (``question``) uses that model's calibration."""
        scores = np.asarray(scores, dtype=float)
        if len(scores) == 0:
            return 0.0
        if len(scores) == 1:
            return 1.0
        top = np.sort(scores)[-2:]
        w = self.whole_model(question) or self.weights
        a, b = w.get("calib", [10.0, 0.0])
        z = a * float(top[1] - top[0]) + b + float(w.get("calib_gap", 0.0)) * gap
        return float(1.0 / (1.0 + math.exp(-z))) if z > -700 else 0.0


def anchor_echoes(question: str, options: Sequence[str]) -> list[bool]:
    """For after/before questions: whether each option names only the anchor event itself.

    >>> anchor_echoes("Which chapter comes right after the chapter on Coral Reefs?", ["Coral Reefs", "Bridges"])
    [True, False]
    >>> anchor_echoes("what did the boy do after he fell", ["fell again", "cried"])
    [False, False]
    >>> anchor_echoes("what is the boy holding", ["a ball"])
    [False]
    """
    qterms = question_terms(question)[0]
    anchor, _ = order_anchor(question, qterms)
    if not anchor:
        return [False] * len(options)
    out = []
    for o in options:
        words = {stem(w) for w in _TOKEN.findall(o) if w.lower() not in ("a", "an", "the")}
        out.append(bool(words) and words <= anchor)
    return out


def answer_scores(scorer: Any, question: str, options: Sequence[str], reads: Sequence[Read],
                  embedder: Embedder | None, reader_weight: float) -> tuple[np.ndarray, float]:
    """(score per option, confidence) from what was read: the one way every strategy answers.

    The scorer's logits plus the extractive reader's vote (:func:`reader_vote`); the confidence
    is the scorer's, with the evidence gap of these reads."""
    texts = [r.text for r in reads if r.text]
    s = np.asarray(scorer.score(question, list(options), texts), dtype=float)
    s = s + reader_vote(question, options, reads, embedder, reader_weight)
    # the question picks the calibration of the model that scored it (OptionScorer; test doubles take none)
    kw = {"question": question} if hasattr(scorer, "whole_model") else {}
    return s, float(scorer.confidence(s, gap=evidence_gap(question, texts), **kw))


def load_weights(path: Path | str = WEIGHTS_PATH) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_default_scorer(embedder: Embedder, llm: Any = None) -> OptionScorer:
    """The scorer with the fitted weights (``agent/scorer_weights.json``)."""
    return OptionScorer(embedder, llm=llm, weights=load_weights())
