"""Lexical scoring inside a few videos: BM25 over node documents with those videos' own statistics.

Why not FTS5's ``bm25()`` there: it scores single text rows with library-wide statistics. Inside
one video (the planner's ``search``, ``videonav search --video``, moment retrieval) the words
that matter are the ones that pick out *part* of the video: "boy" in every caption of a video
about a boy is worthless there however rare it is in the library. So each node becomes one
document (all its text fields together: a 5-s leaf's caption and its 1-fps lines), and IDF and
length normalisation come from the nodes of the searched videos. On NExT-GQA (bench/retrieval.py,
tuned on the first half of the val videos) this raised lexical R@1 at IoU 0.3 from 0.276 to 0.294
and hybrid from 0.302 to 0.311 on that half.

Tokens are FTS5's own (``porter unicode61``, the index's tokenizer), read back through
``fts5vocab`` from a private in-memory table, so a query term and an indexed word stem alike.
The tokenised documents are cached per (trees, fields) until the store changes: the planner
asks many questions of one video.

Adjacent query words also score as a pair when a row says them next to each other (stop words
skipped on both sides, :data:`PAIR_WEIGHT` x the pair's own BM25 in the node): a bag of words
cannot tell "across the white slide" from "a white triangle ... across a pink slide", or a "green
slide" from a "dark green" one, when every word of the query is in both. On training sample videos
(seeds 110-114, 24 colour-shape questions) the asked slide's clip was in the hybrid top 3 for 20 ->
22 and the lexical top 1 for 19 -> 22; NExT-GQA fit half R@1@0.3 (supplemented) lexical 0.288 ->
0.290, hybrid 0.307 -> 0.310; larger weights (0.25-1) cost lexical 0.1-0.7 points there.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from videonav.memory import text_index as ti

K1 = 2.0  # picked on the tuning half of NExT-GQA val (1.2 and 0.5 within 0.5 points)
B = 0.75
BULK = 5000  # texts from which tokenize() uses a private table
PAIR_WEIGHT = 0.05  # x an adjacent query-word pair's BM25: the smallest weight at the training plateau
_CACHE: dict[tuple[object, ...], _Docs] = {}
_TOK = sqlite3.connect(":memory:", check_same_thread=False)
_TOK.execute("CREATE VIRTUAL TABLE tok USING fts5(text, tokenize='porter unicode61')")
_TOK.execute("CREATE VIRTUAL TABLE tok_v USING fts5vocab(tok, 'instance')")
_LOCK = threading.Lock()


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """FTS5 porter tokens of each text, in order (the same stems the store's index holds).

    A bulk job (more than :data:`BULK` texts) gets a table of its own: deleting that many rows
    from the shared one left it slow (~0.3 s a query for every later short query)."""
    if len(texts) > BULK:
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE VIRTUAL TABLE tok USING fts5(text, tokenize='porter unicode61')")
            db.execute("CREATE VIRTUAL TABLE tok_v USING fts5vocab(tok, 'instance')")
            db.executemany("INSERT INTO tok(rowid, text) VALUES (?, ?)", [(i + 1, t) for i, t in enumerate(texts)])
            out: list[list[str]] = [[] for _ in texts]
            for term, doc in db.execute("SELECT term, doc FROM tok_v ORDER BY doc, offset"):
                out[doc - 1].append(term)
            return out
        finally:
            db.close()
    with _LOCK, _TOK:
        _TOK.execute("DELETE FROM tok")
        _TOK.executemany("INSERT INTO tok(rowid, text) VALUES (?, ?)", [(i + 1, t) for i, t in enumerate(texts)])
        out = [[] for _ in texts]
        for term, doc in _TOK.execute("SELECT term, doc FROM tok_v ORDER BY doc, offset"):
            out[doc - 1].append(term)
        _TOK.execute("DELETE FROM tok")
    return out


class _Docs:
    """The searched trees' nodes as bags of stems, plus each field row's stems (to show the best one)."""

    def __init__(self, rows: list[tuple[int, str, str, str]], nodes: list[tuple[str, str]]) -> None:
        parents = {(tk, "root" if "." not in n else n.rsplit(".", 1)[0]) for tk, n in nodes if n != "root"}
        self.leaves = {k for k in nodes if k not in parents}
        toks = tokenize([r[3] for r in rows])
        self.row_terms: dict[int, set[str]] = {}
        self.node_rows: dict[tuple[str, str], list[int]] = {}
        self.tf: dict[tuple[str, str], Counter[str]] = {}
        self.pairs: dict[tuple[str, str], Counter[tuple[str, str]]] = {}  # adjacent content stems, within a row
        skip = _skip_stems()
        for (fid, tk, nid, _text), ts in zip(rows, toks, strict=True):
            key = (tk, nid)
            self.row_terms[fid] = set(ts)
            self.node_rows.setdefault(key, []).append(fid)
            self.tf.setdefault(key, Counter()).update(ts)
            content = [t for t in ts if t not in skip]
            self.pairs.setdefault(key, Counter()).update(zip(content, content[1:], strict=False))
        self.length = {k: sum(c.values()) for k, c in self.tf.items()}


def _docs(db: sqlite3.Connection, trees: Sequence[str], fields: Sequence[str] | None) -> _Docs:
    marks = ",".join("?" * len(trees))
    # any commit (this connection's: total_changes; another's: data_version) may have rewritten
    # these trees; row ids alone do not tell, SQLite reuses them after a delete
    version = (db.execute("PRAGMA data_version").fetchone()[0], db.total_changes)
    key = (id(db), tuple(sorted(trees)), tuple(fields) if fields is not None else None, version)
    got = _CACHE.get(key)
    if got is None:
        params: list[object] = list(trees)
        sql = f"SELECT id, tree_key, node_id, text FROM text_fields WHERE tree_key IN ({marks})"
        if fields is not None:
            sql += f" AND field IN ({','.join('?' * len(fields))})"
            params += list(fields)
        nodes = db.execute(f"SELECT tree_key, node_id FROM nodes WHERE tree_key IN ({marks})", list(trees)).fetchall()
        got = _Docs(db.execute(sql + " ORDER BY id", params).fetchall(), nodes)
        if len(_CACHE) >= 16:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = got
    return got


_SKIP: list[frozenset[str]] = []


def _skip_stems() -> frozenset[str]:
    """Stems of the words :func:`ti.fts_query` drops (stop and position words): skipped when
    reading adjacency, so "across the white slide" and "across a white slide" pair alike."""
    if not _SKIP:
        words = sorted(ti._STOP | ti._QUESTION)
        _SKIP.append(frozenset(t for ts in tokenize(words) for t in ts))
    return _SKIP[0]


def query_pairs(query: str) -> list[tuple[str, str]]:
    """Distinct (stem, stem) pairs of query words next to each other once stop and position words
    are dropped; a word with caption synonyms (:data:`ti._SYNONYMS`) pairs as each of them.

    >>> query_pairs("What shape moved across the white slide?")[-2:]
    [('across', 'white'), ('white', 'slide')]
    """
    keep = [w for w in ti.content_tokens(query) if w.strip("_")][:ti.MAX_TERMS]
    if len(keep) < 2:
        return []
    alts = [ti._SYNONYMS.get(w, (w,)) for w in keep]
    flat = list(dict.fromkeys(a for al in alts for a in al))
    stems = dict(zip(flat, tokenize(flat), strict=True))
    skip = _skip_stems()
    out: dict[tuple[str, str], None] = {}
    for left, right in zip(alts, alts[1:], strict=False):
        for a in left:
            for b in right:
                x, y = stems[a], stems[b]
                if x and y and x[-1] not in skip and y[0] not in skip:
                    out[(x[-1], y[0])] = None
    return list(out)


def query_terms(query: str) -> list[str]:
    """Distinct stems of the query's content words (the words :func:`ti.fts_query` keeps)."""
    expr = ti.fts_query(query)
    if expr is None:
        return []
    return list(dict.fromkeys(t for ts in tokenize([expr.replace('"', " ").replace(" OR ", " ")]) for t in ts))


def _bm25(weights: dict[Any, float], counts: Counter[Any], norm: float) -> float:
    """One node's BM25 over ``weights`` (term or pair -> idf weight) given its ``counts``."""
    return sum(w * f * (K1 + 1) / (f + norm) for t, w in weights.items() if (f := counts.get(t, 0)))


def score(db: sqlite3.Connection, query: str, trees: Sequence[str], fields: Sequence[str] | None,
          level: str = "any", limit: int = 200) -> list[tuple[int, float]]:
    """(field id shown, BM25 of its node) for the ``limit`` best nodes of ``trees``, best first.

    ``level`` ("leaf", "part", "any") limits the documents, and so the statistics, to those
    nodes. The field shown for a node is its row holding the most query terms.

    A node also scores :data:`PAIR_WEIGHT` x the BM25 of each query pair (:func:`query_pairs`) one
    of its rows says adjacently, the pair counted as a term of its own (df over these nodes): the
    ordered-window feature of sequential dependence models, window 1."""
    terms = query_terms(query)
    if not terms or not trees:
        return []
    d = _docs(db, trees, fields)
    keys = [k for k in d.tf if level == "any" or (k in d.leaves) == (level == "leaf")]
    if not keys:
        return []
    n = len(keys)
    avg = sum(d.length[k] for k in keys) / n or 1.0
    df = {t: sum(1 for k in keys if t in d.tf[k]) for t in terms}
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items() if c}
    if not idf:
        return []
    pairs = query_pairs(query) if PAIR_WEIGHT > 0 else []
    pdf = {p: sum(1 for k in keys if p in d.pairs[k]) for p in pairs}
    pidf = {p: PAIR_WEIGHT * math.log(1 + (n - c + 0.5) / (c + 0.5)) for p, c in pdf.items() if c}
    out = []
    for k in keys:
        norm = K1 * (1 - B + B * d.length[k] / avg)
        s = _bm25(idf, d.tf[k], norm) + _bm25(pidf, d.pairs[k], norm)
        if s > 0:
            best = max(d.node_rows[k], key=lambda fid: (len(d.row_terms[fid] & idf.keys()), -fid))
            out.append((best, s))
    out.sort(key=lambda x: (-x[1], x[0]))
    return out[:limit]


def grow_spans(order: list[tuple[str, str]], best: list[tuple[tuple[str, str], tuple[Any, ...]]],
               info: dict[int, tuple[str, str, int, float, float, str, str]], node_best: dict[tuple[str, str], int]
               ) -> dict[tuple[str, str], tuple[float, float]]:
    """Each node of ``order``'s span, widened over the nodes of ``best`` (the ranking's head:
    (node, field row)) of the same tree and level that touch it in time, transitively.

    Why: a moment is often longer than one 5-s leaf, or straddles two, and the leaf ranked
    second is then usually its neighbour. On NExT-GQA (bench/retrieval.py --grow 2, picked on the
    fit half) growing the top leaf over the two best raised R@1 at IoU 0.3 of every mode: hybrid
    0.307 -> 0.352 on the fit half, 0.285 -> 0.314 held; dense 0.259 -> 0.302 held, so it is a
    span fix, not a hybrid one. The ranking itself is unchanged; opt-in (default 0).

    >>> row = lambda n, s, e: ("t", n, 2, s, e, "caption", "x")
    >>> info = {1: row("1.1", 0, 5), 2: row("1.2", 5, 10), 3: row("1.4", 15, 20)}
    >>> nb = {("t", "1.1"): 1, ("t", "1.2"): 2, ("t", "1.4"): 3}
    >>> head = [(k, info[f]) for k, f in nb.items()]
    >>> grow_spans([("t", "1.2")], head, info, nb)
    {('t', '1.2'): (0.0, 10.0)}
    """
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for key in order:
        tk, _nid, lv, s, e, _f, _t = info[node_best[key]]
        a, b = float(s or 0.0), float(e or 0.0)
        near = [(float(r[3] or 0.0), float(r[4] or 0.0)) for k, r in best if k != key and r[0] == tk and r[2] == lv]
        changed = True
        while changed:
            changed = False
            for s2, e2 in near:
                if abs(e2 - a) < 1e-6 or abs(s2 - b) < 1e-6 or (s2 < b and e2 > a and (s2 < a or e2 > b)):
                    a, b, changed = min(a, s2), max(b, e2), True
            near = [(s2, e2) for s2, e2 in near if not (s2 >= a - 1e-6 and e2 <= b + 1e-6)]
        out[key] = (a, b)
    return out
