"""Whole videos ranked for a query across a library (``videonav search --by video``, NExT-QA video retrieval).

Why not the best node of the fused node list: rank fusion keeps only each list's order, and
a video's best row is often ranked by a few hundredths of a cosine among 570 videos; how far
ahead of the library a video is gets lost. Here each retriever scores every video (dense: its
best row's cosine, exact over the whole matrix; lexical: its best row's BM25 among the
``candidates`` best rows, 0 when none), each score is standardised over the library's videos,
and hybrid adds them with the lexical side weighted :data:`VIDEO_LEX_WEIGHT`. On the tuning
half of NExT-QA val (bench/retrieval.py) this gave R@1 0.320 against 0.303 for RRF (k=60);
other per-video aggregations (top-3 mean, sum, whole-video BM25 documents) were within a point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from videonav.memory import text_index as ti

if TYPE_CHECKING:
    from videonav.tools.search import Hit, Mode, Searcher

VIDEO_LEX_WEIGHT = 0.3  # picked on the tuning half of NExT-QA val (0.5: 0.303, 0.7: 0.270 R@1)


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def rank_videos(sr: Searcher, query: str, *, top: int = 10, mode: Mode = "hybrid",
                fields: tuple[str, ...] | None = None, candidates: int = 2000) -> list[Hit]:
    """The ``top`` videos for ``query``, best first; never raises on odd query text. Lexical mode
    returns only videos with a matching word; dense and hybrid rank every video."""
    from videonav.tools.search import MAX_QUERY_CHARS, Hit

    query = query if isinstance(query, str) else str(query)
    if not query.strip() or top <= 0:
        return []
    if mode != "lexical" and sr.embedder is None:
        mode = "lexical"
    m = sr.matrix() if mode != "lexical" else None
    if m is not None and not len(m.ids):
        m, mode = None, "lexical"
    trees = list(m.trees) if m is not None else [r[0] for r in sr.db.execute("SELECT tree_key FROM trees")]
    pos = {t: i for i, t in enumerate(trees)}
    lex = np.zeros(len(trees), np.float64)
    shown: dict[int, int] = {}  # video -> field id shown (its best lexical row)
    if mode != "dense":
        for r in ti.lexical(sr.db, query, fields=fields, limit=candidates):
            i = pos.get(r.tree_key)
            if i is not None and r.score > lex[i]:
                lex[i], shown[i] = r.score, r.field_id
    if m is not None:
        assert sr.embedder is not None
        sims = m.scores(sr.embedder.encode([query[:MAX_QUERY_CHARS]])[0].astype(np.float32))
        if fields is not None:
            sims = np.where(np.isin(m.codes, [ti.FIELDS.index(f) for f in fields]), sims, -np.inf)
        order, starts = m.by_tree()
        dense = np.maximum.reduceat(sims[order], starts).astype(np.float64)
        finite = np.isfinite(dense)
        dense[~finite] = dense[finite].min() if finite.any() else 0.0
        score = dense if mode == "dense" else (1 - VIDEO_LEX_WEIGHT) * _z(dense) + VIDEO_LEX_WEIGHT * _z(lex)
        keep = np.arange(len(trees))
    else:
        score, keep = lex, np.flatnonzero(lex > 0)
    chosen = keep[np.argsort(-score[keep], kind="stable")[:top]]
    if m is not None:
        order, starts = m.by_tree()
        ends = np.append(starts[1:], len(order))
        for i in chosen:
            if mode == "dense" or int(i) not in shown:
                rows = order[starts[i]:ends[i]]
                shown[int(i)] = int(m.ids[rows[int(np.argmax(sims[rows]))]])
    info = ti.fetch_fields(sr.db, [shown[int(i)] for i in chosen if int(i) in shown])
    vids = sr._video_ids({trees[int(i)] for i in chosen})
    out = []
    for i in chosen:
        f = info.get(shown.get(int(i), -1))
        if f is not None:
            tk, nid, _lv, s, e, field, text = f
            out.append(Hit(tk, vids.get(tk, tk), nid, float(s or 0.0), float(e or 0.0), text, field, float(score[i])))
    return out
