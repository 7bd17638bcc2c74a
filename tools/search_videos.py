"""Whole videos ranked for a query across a library (``videonav search --by video``, NExT-QA video retrieval).

Why not the best node of the fused node list: rank fusion keeps only each list's order, and
a video's best row is often ranked by a few hundredths of a cosine among 570 videos; how far
ahead of the library a video is gets lost. Here each retriever scores every video and each
score is standardised (z) over the library's videos:

- dense: its best row's cosine, exact over the whole matrix;
- lexical, two views: the video as *one document* (the text of all its leaves, BM25 with
  video-level statistics, :func:`video_bm25`): a video that says "dog", "ball" and "sofa" in
  different seconds matches a question naming all three, which no single caption does; and its
  best single row's FTS5 BM25 among the ``candidates`` best rows (a rare word said once).

hybrid = 0.7 z(dense) + 0.2 z(video document) + 0.1 z(best row); lexical alone ranks by the
same lexical part (2:1). Chosen on the tuning half of NExT-QA val (bench/retrieval.py): R@1
0.320 -> 0.327 there (best row only -> both views); the video document alone 0.268 against
0.215 for the best row. Per-video dense aggregations (top-3 mean), bigram documents, a weight
from how peaked the lexical scores are, and a softmax-fitted blend of 16 such scores were all
within a point of this on that half (bench/results/retrieval.txt, round 3).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from videonav.memory import text_index as ti
from videonav.tools import search_local as local

if TYPE_CHECKING:
    from videonav.tools.search import Hit, Mode, Searcher

VIDEO_LEX_WEIGHT = 0.3  # picked on the tuning half of NExT-QA val (0.5: 0.303, 0.7: 0.270 R@1)
DOC_SHARE = 2 / 3  # of the lexical weight, the video document's; the rest the best row's
DOC_K1, DOC_B = 10.0, 0.75  # tuning half: k1 5 / 10 within 0.3 points; 1.2 (library-row style) 2 points worse
_DOCS: dict[tuple[object, ...], _VideoDocs] = {}


class _VideoDocs:
    """Every video's leaf text as one bag of stems: per stem, which videos say it how often."""

    def __init__(self, trees: list[str], stems: Iterable[tuple[str, int]]) -> None:
        self.trees = trees
        counts: dict[tuple[str, int], int] = {}
        for term, i in stems:
            counts[(term, i)] = counts.get((term, i), 0) + 1
        post: dict[str, tuple[list[int], list[int]]] = {}
        self.length = np.zeros(len(trees), np.float64)
        for (term, i), c in counts.items():
            got = post.setdefault(term, ([], []))
            got[0].append(i)
            got[1].append(c)
            self.length[i] += c
        self.post = {t: (np.array(ix, np.int64), np.array(cs, np.float64)) for t, (ix, cs) in post.items()}
        self.n = int((self.length > 0).sum())
        self.avg = float(self.length[self.length > 0].mean()) if self.n else 1.0


def _row_stems(db: sqlite3.Connection, tree_of: dict[int, int], texts: dict[int, str]) -> Iterable[tuple[str, int]]:
    """(stem, video index) for every token of the rows in ``tree_of``. Read from the store's own
    FTS5 index (``fts5vocab``: no re-tokenising, ~3 s for 2M tokens); a private tokeniser if the
    store's SQLite cannot."""
    try:
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vn_text_vocab "
                   "USING fts5vocab(main, 'text_fts', 'instance')")
        rows = db.execute("SELECT term, doc FROM temp.vn_text_vocab")
    except sqlite3.Error:
        ids = list(texts)
        return ((t, tree_of[i]) for i, ts in zip(ids, local.tokenize([texts[i] for i in ids]), strict=True) for t in ts)
    return ((term, tree_of[doc]) for term, doc in rows if doc in tree_of)


def _video_docs(db: sqlite3.Connection, fields: tuple[str, ...] | None) -> _VideoDocs:
    """The library's video documents for ``fields``, cached until anything is committed."""
    version = (db.execute("PRAGMA data_version").fetchone()[0], db.total_changes)
    key = (id(db), fields, version)
    got = _DOCS.get(key)
    if got is None:
        nodes = db.execute("SELECT tree_key, node_id FROM nodes").fetchall()
        parents = {(tk, "root" if "." not in n else n.rsplit(".", 1)[0]) for tk, n in nodes if n != "root"}
        sql, params = "SELECT id, tree_key, node_id, text FROM text_fields", list(fields or ())
        if fields is not None:
            sql += f" WHERE field IN ({','.join('?' * len(fields))})"
        rows = [(fid, tk, text) for fid, tk, nid, text in db.execute(sql, params) if (tk, nid) not in parents]
        trees = sorted({tk for _, tk, _ in rows})
        pos = {t: i for i, t in enumerate(trees)}
        tree_of = {fid: pos[tk] for fid, tk, _ in rows}
        got = _VideoDocs(trees, _row_stems(db, tree_of, {fid: text for fid, _, text in rows}))
        for k in [k for k in _DOCS if k[0] == id(db)]:  # one library per connection: drop stale versions
            del _DOCS[k]
        if len(_DOCS) >= 4:
            _DOCS.pop(next(iter(_DOCS)))
        _DOCS[key] = got
    return got


def video_bm25(db: sqlite3.Connection, query: str, trees: list[str],
               fields: tuple[str, ...] | None = None) -> np.ndarray:
    """BM25 of each of ``trees`` as one document (its leaves' ``fields`` text), aligned with
    ``trees``; 0 where no query word occurs. IDF counts videos, not captions: a word in every
    caption of one video is rare in the library, a word in most videos is not."""
    out = np.zeros(len(trees), np.float64)
    terms = local.query_terms(query)
    if not terms or not trees:
        return out
    d = _video_docs(db, fields)
    own = np.zeros(len(d.trees), np.float64)
    for t in terms:
        got = d.post.get(t)
        if got is None:
            continue
        idx, tf = got
        idf = math.log(1 + (d.n - len(idx) + 0.5) / (len(idx) + 0.5))
        own[idx] += idf * tf * (DOC_K1 + 1) / (tf + DOC_K1 * (1 - DOC_B + DOC_B * d.length[idx] / d.avg))
    pos = {t: i for i, t in enumerate(d.trees)}
    for j, t in enumerate(trees):
        i = pos.get(t)
        if i is not None:
            out[j] = own[i]
    return out


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _show_rows(db: sqlite3.Connection, query: str, keys: list[str], fields: tuple[str, ...] | None,
               idx: dict[str, int], shown: dict[int, int]) -> None:
    """A row to show for each of ``keys``: its best BM25 row (one FTS query for all of them, when
    they are a page of hits, not hundreds), else its first row."""
    for r in ti.lexical(db, query, trees=keys, fields=fields, limit=20 * len(keys)) if len(keys) <= 20 else []:
        if idx[r.tree_key] not in shown:
            shown[idx[r.tree_key]] = r.field_id
    rest = [k for k in keys if idx[k] not in shown]
    if rest:
        sql = f"SELECT tree_key, min(id) FROM text_fields WHERE tree_key IN ({','.join('?' * len(rest))})"
        params: list[object] = list(rest)
        if fields is not None:
            sql += f" AND field IN ({','.join('?' * len(fields))})"
            params += list(fields)
        for tk, fid in db.execute(sql + " GROUP BY tree_key", params):
            shown[idx[tk]] = int(fid)


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
        doc = video_bm25(sr.db, query, trees, fields)
        lexical = DOC_SHARE * _z(doc) + (1 - DOC_SHARE) * _z(lex)
    if m is not None:
        assert sr.embedder is not None
        sims = m.scores(sr.embedder.encode([query[:MAX_QUERY_CHARS]])[0].astype(np.float32))
        if fields is not None:
            sims = np.where(np.isin(m.codes, [ti.FIELDS.index(f) for f in fields]), sims, -np.inf)
        order, starts = m.by_tree()
        dense = np.maximum.reduceat(sims[order], starts).astype(np.float64)
        finite = np.isfinite(dense)
        dense[~finite] = dense[finite].min() if finite.any() else 0.0
        score = dense if mode == "dense" else (1 - VIDEO_LEX_WEIGHT) * _z(dense) + VIDEO_LEX_WEIGHT * lexical
        keep = np.arange(len(trees))
    else:
        score, keep = lexical, np.flatnonzero((lex > 0) | (doc > 0))
    chosen = keep[np.argsort(-score[keep], kind="stable")[:top]]
    missing = [int(i) for i in chosen if m is None and int(i) not in shown]
    if missing:  # lexical: videos whose document matched but none of whose rows was a candidate
        _show_rows(sr.db, query, [trees[i] for i in missing], fields, {trees[i]: i for i in missing}, shown)
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
