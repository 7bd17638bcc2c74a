"""Hybrid retrieval over a store: BM25 (SQLite FTS5) fused with dense MiniLM similarity.

Why both: BM25 finds the rare exact words a user remembers (a name on a slide, ``COPPER``,
"trishaw") that a 384-d sentence vector blurs, while the vectors find paraphrases ("sofa" for
"couch") that share no word. Reciprocal-rank fusion (Cormack et al., 2009) combines the two
rankings without calibrating their scores against each other.

Inside a few videos (the planner, ``--video``) the lexical side is BM25 over whole nodes with
those videos' own statistics (:mod:`videonav.tools.search_local`); whole videos are ranked by
:mod:`videonav.tools.search_videos` (``--by video``).

Why a brute-force matrix: vectors live in the store (``text_vectors``, the source of truth);
the matrix here is a rebuildable cache, in memory and as ``.npy`` files beside the store
(memory-mapped by the next process), named by a fingerprint of the store's rows. It is exact up
to float16 rounding and needs no extra dependency; within one video only that video's rows are
read. Library-wide the scan is bound by memory bandwidth, so from :data:`HALF_ROWS` rows it is
kept in float16 and multiplied by torch's half GEMV (already installed for MiniLM): at 331k x 384
that cut the dense scan about 2.5x against numpy float32 (bench/results/retrieval_scale.txt;
faiss and hnswlib were measured there too, and sqlite-vec cannot load in this Python).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from videonav.memory import text_index as ti
from videonav.tools import search_local as local
from videonav.tools.embed import Embedder

Mode = Literal["hybrid", "lexical", "dense"]
Level = Literal["leaf", "part", "any"]
RRF_K = 60
FEW_TREES = 8  # up to this many trees, dense search reads their vectors directly instead of the library matrix
HALF_ROWS = 20000  # from this many rows the library matrix is scanned in float16 (see _Matrix)
MAX_QUERY_CHARS = 2000  # dense side: MiniLM reads 256 word pieces anyway; longer text only costs time


@dataclass(frozen=True)
class Hit:
    """One node that matched: its span, the text that matched best, and the fused score."""

    tree_key: str
    video_id: str
    node_id: str
    start: float
    end: float
    text: str
    field: str
    score: float

    def as_json(self) -> dict[str, Any]:
        """The ``videonav search --json`` object; ``video`` is the tree key (``tree show`` accepts it)."""
        return {"video": self.tree_key, "start": self.start, "end": self.end, "node": self.node_id,
                "text": self.text, "score": round(self.score, 6)}


def _parent(nid: str) -> str:
    return "root" if "." not in nid else nid.rsplit(".", 1)[0]


class _Matrix:
    """All vectors of one embedder as one matrix plus per-row metadata (the rebuildable cache)."""

    def __init__(self, ids: np.ndarray, mat: np.ndarray, tree_idx: np.ndarray, trees: list[str],
                 node_ids: np.ndarray, codes: np.ndarray, leaf: np.ndarray) -> None:
        self.ids, self.tree_idx, self.trees = ids, tree_idx, trees
        self.node_ids, self.codes, self.leaf = node_ids, codes, leaf
        # Large matrices are scanned in float16: at 300k x 384 the scan is bound by memory bandwidth,
        # so half the bytes is ~half the time; cosines move by < 0.002 (bench/search_scale.py
        # measures recall@10 against float32). Small ones stay float32 (already fast, exact).
        self.mat = mat.astype(np.float16) if len(mat) >= HALF_ROWS and mat.dtype != np.float16 else mat
        self._torch: Any = None

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Cosine of ``q`` with every row (float32). A float16 matrix goes through torch's half GEMV
        (numpy has no fast float16 matmul: ~30x slower than float32); torch is already installed
        for MiniLM, and without it the matrix is widened to float32 once."""
        if self.mat.dtype != np.float16:
            return np.asarray(self.mat @ q.astype(self.mat.dtype), dtype=np.float32)
        if self._torch is None:
            try:
                import torch

                self._torch = (torch, torch.from_numpy(self.mat))
            except ImportError:
                self._torch = (None, np.asarray(self.mat, dtype=np.float32))
        torch, t = self._torch
        if torch is None:
            return np.asarray(t @ q.astype(np.float32), dtype=np.float32)
        return (t @ torch.from_numpy(q.astype(np.float16))).float().numpy()

    @classmethod
    def build(cls, db: sqlite3.Connection, embedder: str, only: list[str] | None = None) -> _Matrix:
        ids, mat, tks, nids, codes, _levels = ti.vector_rows(db, embedder, only)
        trees = sorted(set(tks))
        pos = {t: i for i, t in enumerate(trees)}
        q = "SELECT tree_key, node_id FROM nodes WHERE node_id<>'root'"
        rows = db.execute(q + (f" AND tree_key IN ({','.join('?' * len(only))})" if only else ""), only or [])
        parents = {(tk, _parent(n)) for tk, n in rows}
        leaf = np.fromiter(((tk, n) not in parents for tk, n in zip(tks, nids, strict=True)), bool, len(tks))
        return cls(ids, mat, np.fromiter((pos[t] for t in tks), np.int32, len(tks)), trees,
                   np.array(nids, dtype=str), codes, leaf)

    def by_tree(self) -> tuple[np.ndarray, np.ndarray]:
        """Row order grouping rows by tree, and where each tree's group starts (for per-video maxima)."""
        got = getattr(self, "_by_tree", None)
        if got is None:
            order = np.argsort(self.tree_idx, kind="stable")
            starts = np.searchsorted(self.tree_idx[order], np.arange(len(self.trees)))
            got = self._by_tree = (order, starts)
        return got

    _NAMES = ("ids", "mat16", "tree_idx", "node_ids", "codes", "leaf")  # mat16: caches before float16 are ignored

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in self._NAMES:
            np.save(folder / f"{name}.npy", getattr(self, "mat" if name == "mat16" else name), allow_pickle=False)
        (folder / "trees.json").write_text(json.dumps(self.trees), encoding="utf-8")
        (folder / "mat.npy").unlink(missing_ok=True)  # the float32 matrix of caches before float16
        for old in folder.parent.iterdir():  # older fingerprints are dead weight (hundreds of MiB each)
            if old != folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> _Matrix | None:
        try:
            # copy-on-write map: shared page cache across processes, and writable as torch.from_numpy wants
            arrs = {n: np.load(folder / f"{n}.npy", mmap_mode="c" if n == "mat16" else None, allow_pickle=False)
                    for n in cls._NAMES}
            trees = json.loads((folder / "trees.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(arrs["ids"], arrs["mat16"], arrs["tree_idx"], trees, arrs["node_ids"], arrs["codes"], arrs["leaf"])


_MEMORY: dict[tuple[str, str], tuple[str, _Matrix]] = {}


class Searcher:
    """Search one store. ``embedder=None`` gives lexical-only search (no vectors needed)."""

    def __init__(self, db: sqlite3.Connection, embedder: Embedder | None = None, *,
                 cache_dir: Path | None = None, rrf_k: int = RRF_K) -> None:
        ti.ensure(db)
        self.db = db
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.rrf_k = rrf_k
        self.embedded = 0  # texts embedded by this searcher (tests: once per text, never per query)

    @classmethod
    def for_store(cls, store: Any, embedder: Embedder | None = None, **kw: Any) -> Searcher:
        path = Path(store.path)
        kw.setdefault("cache_dir", path.parent / f"{path.name}.search-cache")
        return cls(store._db, embedder, **kw)  # the store's own connection: one writer per process

    @property
    def embedder_id(self) -> str:
        e = self.embedder
        return f"{getattr(e, 'name', 'embedder')}:{getattr(e, 'dim', 0)}"

    # -- vectors -----------------------------------------------------------------------------
    def index_vectors(self, batch: int = 512, trees: list[str] | None = None) -> int:
        """Embed every text (of ``trees``) that has no vector for this embedder yet, store it; returns how many."""
        if self.embedder is None:
            return 0
        todo = ti.missing_texts(self.db, self.embedder_id, trees)
        for i in range(0, len(todo), batch):
            part = todo[i:i + batch]
            vecs = self.embedder.encode([t for _, t in part])
            ti.put_vectors(self.db, self.embedder_id, [h for h, _ in part], vecs)
        self.embedded += len(todo)
        return len(todo)

    def _changed(self) -> bool:
        """Whether anything was committed since the last look (another process, or this connection)."""
        now = (self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes)
        changed, self._seen = now != getattr(self, "_seen", None), now
        return changed

    def matrix(self) -> _Matrix:
        mkey = (str(self.cache_dir or id(self.db)), self.embedder_id)
        if not self._changed() and mkey in _MEMORY and getattr(self, "_fp", None) == _MEMORY[mkey][0]:
            return _MEMORY[mkey][1]
        self.index_vectors()
        fp = ti.fingerprint(self.db, self.embedder_id)
        self._changed()
        self._fp = fp
        got = _MEMORY.get(mkey)
        if got is not None and got[0] == fp:
            return got[1]
        folder = self.cache_dir / self.embedder_id.replace(":", "-") / fp if self.cache_dir else None
        m = _Matrix.load(folder) if folder is not None and folder.exists() else None
        if m is None:
            m = _Matrix.build(self.db, self.embedder_id)
            if folder is not None and len(m.ids) >= 20000:  # small stores rebuild faster than they load
                try:
                    m.save(folder)
                except OSError:
                    pass  # a read-only folder only costs the rebuild next time
        _MEMORY[mkey] = (fp, m)
        return m

    # -- retrieval ---------------------------------------------------------------------------
    def _dense(self, query: str, trees: list[str] | None, fields: tuple[str, ...] | None, level: Level,
               limit: int) -> list[tuple[int, float]]:
        assert self.embedder is not None
        if trees is not None and len(trees) <= FEW_TREES:  # one video (the planner, --video): its rows only
            self.index_vectors(trees=trees)
            m = _Matrix.build(self.db, self.embedder_id, trees)
        else:
            m = self.matrix()
        if not len(m.ids):
            return []
        q = self.embedder.encode([query[:MAX_QUERY_CHARS]])[0].astype(np.float32)
        sims = m.scores(q)
        mask = np.ones(len(sims), bool)
        if trees is not None:
            pos = {t: i for i, t in enumerate(m.trees)}
            mask &= np.isin(m.tree_idx, [pos[t] for t in trees if t in pos])
        if fields is not None:
            mask &= np.isin(m.codes, [ti.FIELDS.index(f) for f in fields])
        if level != "any":
            mask &= m.leaf if level == "leaf" else ~m.leaf
        if not mask.all():
            sims = np.where(mask, sims, -np.inf)
        k = min(limit, int(mask.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(m.ids[i]), float(sims[i])) for i in top]

    def _lexical(self, query: str, trees: list[str] | None, fields: tuple[str, ...] | None, level: Level,
                 limit: int) -> list[tuple[int, float]]:
        if trees is not None and len(trees) <= FEW_TREES:  # inside a video: its own statistics (search_local)
            return local.score(self.db, query, trees, fields, level, limit)
        rows = ti.lexical(self.db, query, trees=trees, fields=fields, limit=limit * (1 if level == "any" else 4))
        if level != "any":
            keys = list(dict.fromkeys((r.tree_key, r.node_id) for r in rows))
            leaf = dict(zip(keys, ti.leaf_flags(self.db, keys), strict=True))
            rows = [r for r in rows if leaf[(r.tree_key, r.node_id)] == (level == "leaf")]
        return [(r.field_id, r.score) for r in rows[:limit]]

    def search(self, query: str, *, trees: list[str] | None = None, top: int = 10, level: Level = "any",
               mode: Mode = "hybrid", fields: tuple[str, ...] | None = None, candidates: int = 200,
               grow: int = 0) -> list[Hit]:
        """The ``top`` best nodes for ``query``, best first; never raises on odd query text.

        ``trees`` restricts to those tree keys; ``fields`` to some text fields (``("caption",)`` is
        the original-only baseline); each retriever contributes its ``candidates`` best rows.
        ``grow`` > 0 widens each hit's span over the time-adjacent nodes (same tree, same level)
        among the ``grow`` best of the ranking (:func:`search_local.grow_spans`)."""
        query = query if isinstance(query, str) else str(query)
        if not query.strip() or top <= 0 or (trees is not None and not trees):
            return []
        if mode != "lexical" and self.embedder is None:
            mode = "lexical"
        ranked: list[list[tuple[int, float]]] = []
        if mode in ("hybrid", "lexical"):
            ranked.append(self._lexical(query, trees, fields, level, candidates))
        if mode in ("hybrid", "dense"):
            ranked.append(self._dense(query, trees, fields, level, candidates))
        info = ti.fetch_fields(self.db, {fid for r in ranked for fid, _ in r})
        node_score, node_best = fuse([[((info[f][0], info[f][1]), f, raw) for f, raw in rows if f in info]
                                      for rows in ranked], self.rrf_k)
        exact = _exact_numbers(query, info) if len(ranked) > 1 else set()
        ranking = sorted(node_score, key=lambda k: (k not in exact, -node_score[k], k))
        order = ranking[:top]
        vids = self._video_ids({k[0] for k in order})
        spans = local.grow_spans(order, [(k, info[node_best[k]]) for k in ranking[:max(0, int(grow))]], info, node_best)
        out = []
        for key in order:
            tk, nid, _lv, _s, _e, field, text = info[node_best[key]]
            s, e = spans[key]
            out.append(Hit(tk, vids.get(tk, tk), nid, s, e, text, field, node_score[key]))
        return out

    def videos(self, query: str, *, top: int = 10, mode: Mode = "hybrid", fields: tuple[str, ...] | None = None,
               candidates: int = 2000) -> list[Hit]:
        """Whole videos ranked for ``query`` library-wide, one :class:`Hit` (its best node) each:
        see :func:`videonav.tools.search_videos.rank_videos`."""
        from videonav.tools.search_videos import rank_videos

        return rank_videos(self, query, top=top, mode=mode, fields=fields, candidates=candidates)

    def _video_ids(self, keys: set[str]) -> dict[str, str]:
        if not keys:
            return {}
        q = f"SELECT tree_key, video_id FROM trees WHERE tree_key IN ({','.join('?' * len(keys))})"
        return {k: v for k, v in self.db.execute(q, list(keys))}


_NUMBER = re.compile(r"\w*\d\w*")


def _exact_numbers(query: str, info: dict[int, tuple[str, str, int, float, float, str, str]]) -> set[tuple[str, str]]:
    """Nodes with a field holding every number-like token of the query ('4821', 'b12'): fused first.

    Sentence embedders barely tell 4821 from 4812, so rank fusion would let a dense near-miss
    outvote the one caption that shows the number; an exact number is the strongest evidence a
    query can name."""
    nums = {m.lower() for m in _NUMBER.findall(query[:MAX_QUERY_CHARS])}
    if not nums:
        return set()
    out = set()
    for tk, nid, _lv, _s, _e, _f, text in info.values():
        if nums <= {m.lower() for m in _NUMBER.findall(text)}:
            out.add((tk, nid))
    return out


def fuse(ranked: list[list[tuple[tuple[str, str], int, float]]], k: int = RRF_K
         ) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], int]]:
    """Reciprocal-rank fusion of ranked (node, field id, raw score) lists, best first in each.

    A node's rank in a list is that of its best field; its fused score is the sum over lists of
    ``1 / (k + rank)``. With one list the raw scores are kept. Returns ({node: score}, {node: the
    field id shown for it}, the first list's best field winning).

    >>> s, _ = fuse([[(("t", "a"), 1, 9.0), (("t", "b"), 2, 8.0)], [(("t", "c"), 3, .9), (("t", "b"), 2, .8)]])
    >>> max(s, key=s.get)
    ('t', 'b')
    """
    score: dict[tuple[str, str], float] = {}
    best: dict[tuple[str, str], int] = {}
    for rows in ranked:
        seen: set[tuple[str, str]] = set()
        for key, fid, raw in rows:
            if key in seen:
                continue
            seen.add(key)
            score[key] = score.get(key, 0.0) + (raw if len(ranked) == 1 else 1.0 / (k + len(seen)))
            best.setdefault(key, fid)
    return score, best


def resolve_trees(db: sqlite3.Connection, video: str) -> list[str]:
    """Tree keys for ``--video``: a tree key, a video id, or a video file path (as ``tree show`` takes)."""
    if db.execute("SELECT 1 FROM trees WHERE tree_key=?", (video,)).fetchone():
        return [video]
    keys = [r[0] for r in db.execute("SELECT tree_key FROM trees WHERE video_id=? ORDER BY created", (video,))]
    if keys:
        return keys
    p = Path(video)
    rows = db.execute("SELECT video_id FROM videos WHERE path=? OR path=?",
                      (video, str(p.resolve()) if video else video)).fetchall()
    out: list[str] = []
    for (vid,) in rows:
        out += [r[0] for r in db.execute("SELECT tree_key FROM trees WHERE video_id=? ORDER BY created", (vid,))]
    if not out and p.stem:
        out = [r[0] for r in db.execute("SELECT tree_key FROM trees WHERE video_id=? ORDER BY created", (p.stem,))]
    return out


def source_search(source: Any, query: str, k: int, embedder: Embedder) -> list[Hit] | None:
    """The planner's ``search`` over a store-backed tree (a video's ``TreeSource`` with ``store`` and
    ``key``): its k best leaves in time order; ``None`` for sources without a store (text trees keep
    their in-memory search, so text-tree benchmarks are unchanged)."""
    store, key = getattr(source, "store", None), getattr(source, "key", None)
    if store is None or not isinstance(key, str) or not hasattr(store, "_db"):
        return None
    hits = Searcher.for_store(store, embedder).search(query, trees=[key], top=k, level="leaf")
    return sorted(hits, key=lambda h: (h.start, h.node_id))
