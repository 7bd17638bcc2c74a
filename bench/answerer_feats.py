"""Feature matrices of the option scorer from cached MiniLM vectors, for ``bench/fit_answerer.py``.

:class:`Featuriser` calls ``agent/scorer.py``'s ``option_features`` with vectors looked up in a
text -> vector dict (question, options, "question option", each read text and each of its
sentences), so the fit computes exactly the numbers the deployed scorer computes from its
embedder. Vectors are cached on disk: NExT-QA caption vectors per video, sentence vectors and
generated-video texts in incremental .npz stores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from answerer_gen import GEN_CONDS, question_texts

from videonav.agent.scorer import FEATURES, GENERIC_TEXTS, content_words, option_features
from videonav.tools.embed import MiniLMEmbedder, split_sentences


def embed_cached(emb: MiniLMEmbedder, texts: list[str], path: Path) -> np.ndarray:
    if path.exists() and len(e := np.load(path)) == len(texts):
        return e
    t = time.time()
    e = emb.encode(texts)
    print(f"embedded {len(texts)} texts in {time.time() - t:.0f} s -> {path}", flush=True)
    np.save(path, e)
    return e


class Featuriser:
    """option_features from cached vectors: one call per (question, options, texts read)."""

    def __init__(self, vecs: dict[str, np.ndarray]) -> None:
        self.v = vecs
        g = np.mean([vecs[t] for t in GENERIC_TEXTS], axis=0)
        self.g = g / np.linalg.norm(g)
        self.words: dict[str, list[set[str]]] = {}

    def __call__(self, question: str, opts: list[str], texts: list[str]) -> np.ndarray:
        q = self.v[question]
        o = np.stack([self.v[x] for x in opts])
        qo = np.stack([self.v[f"{question} {x}"] for x in opts])
        cap = np.stack([self.v[t] for t in texts]) if texts else np.zeros((0, len(q)))
        for t in texts:
            if t not in self.words:
                self.words[t] = [content_words(s) for s in dict.fromkeys(split_sentences(t))]
        sw = [w for t in texts for w in self.words[t]]
        sents = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
        sv = np.stack([self.v[s] for s in sents]) if sents else np.zeros((0, len(q)))
        return option_features(q, o, qo, self.g, cap, opts, sw, set().union(*sw), question, texts, sent=sv)


def sentence_vectors(texts: list[str], store: Path, emb: MiniLMEmbedder | None = None) -> dict[str, np.ndarray]:
    """MiniLM vectors of the distinct sentences of ``texts`` (the scorer's sentence features),
    kept in an incremental text -> vector store (``store``, .npz)."""
    vecs: dict[str, np.ndarray] = {}
    if store.exists():
        z = np.load(store, allow_pickle=False)
        vecs = dict(zip(z["texts"].tolist(), z["vecs"], strict=True))
    want = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
    if todo := [s for s in want if s not in vecs]:
        t = time.time()
        vecs.update(zip(todo, (emb or MiniLMEmbedder()).encode(todo), strict=True))
        print(f"embedded {len(todo)} sentences in {time.time() - t:.0f} s -> {store}", flush=True)
        keys = sorted(vecs)
        np.savez(store, texts=np.array(keys), vecs=np.stack([vecs[k] for k in keys]))
    return {s: vecs[s] for s in want}


def gen_features(seeds: list[int], root: Path, cache: Path) -> tuple[list[dict], dict[str, np.ndarray], np.ndarray]:
    """Records, {cond: (n, 5, f)} and the option mask (n, 5) of generated-video questions."""
    recs = [r for s in seeds for r in question_texts(s, root)]
    texts = list(dict.fromkeys([x for r in recs for x in [r["question"], *r["options"],
                                                           *(f"{r['question']} {o}" for o in r["options"])]]
                               + [t for r in recs for c in GEN_CONDS for t in r["texts"][c]] + GENERIC_TEXTS))
    texts = list(dict.fromkeys(texts + [s for t in texts for s in split_sentences(t)]))  # sentence features
    store = cache / "gen_vecs.npz"
    vecs: dict[str, np.ndarray] = {}
    if store.exists():
        z = np.load(store, allow_pickle=False)
        vecs = dict(zip(z["texts"].tolist(), z["vecs"], strict=True))
    todo = [t for t in texts if t not in vecs]
    if todo:
        vecs.update(zip(todo, MiniLMEmbedder().encode(todo), strict=True))
        keys = sorted(vecs)
        np.savez(store, texts=np.array(keys), vecs=np.stack([vecs[k] for k in keys]))
    feat = Featuriser(vecs)
    F = {c: np.zeros((len(recs), 5, len(FEATURES))) for c in GEN_CONDS}
    mask = np.zeros((len(recs), 5), dtype=bool)
    for n, r in enumerate(recs):
        k = len(r["options"])
        mask[n, :k] = True
        for c in GEN_CONDS:
            F[c][n, :k] = feat(r["question"], r["options"], r["texts"][c])
    return recs, F, mask
