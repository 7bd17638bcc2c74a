"""One embedded SQLite store (WAL) for videos, caption trees, node captions, QA cache and runs.

Writes are single transactions and idempotent (``INSERT OR REPLACE`` on natural keys), so a
killed ``videonav index`` resumes by reading which nodes already have captions. A tree is
keyed by ``tree_key`` = video content hash + everything that changes its captions (leaf
length, width, captioner backend/model/prompt version): changing the captioner makes a new
key and leaves other trees' rows alone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from videonav.memory.tree import CaptionTree, Node, Provenance, TimedText, TreeError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
  video_id TEXT PRIMARY KEY, path TEXT, content_hash TEXT, duration REAL, probe TEXT, created REAL);
CREATE TABLE IF NOT EXISTS trees (
  tree_key TEXT PRIMARY KEY, video_id TEXT, duration REAL, meta TEXT, created REAL);
CREATE TABLE IF NOT EXISTS nodes (
  tree_key TEXT, node_id TEXT, level INTEGER, start REAL, "end" REAL, caption TEXT, transcript TEXT,
  lines TEXT, backend TEXT, model TEXT, prompt_version TEXT, updated REAL,
  PRIMARY KEY (tree_key, node_id));
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY, value TEXT, created REAL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, kind TEXT, tree_key TEXT, created REAL, config TEXT, result TEXT, trace TEXT);
"""


class StoreError(RuntimeError):
    """The store file cannot be opened or is not a videonav store."""


def default_store_path() -> Path:
    return Path.home() / ".cache" / "videonav" / "store.sqlite"


def tree_key(video_hash: str, **settings: Any) -> str:
    """Stable key naming everything that changes a tree's captions.

    >>> tree_key("abc", leaf=10, captioner="classic") == tree_key("abc", captioner="classic", leaf=10)
    True
    """
    blob = json.dumps(settings, sort_keys=True, default=str)
    return f"{video_hash[:16]}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


class Store:
    """Thin, typed access to the SQLite file; one connection per Store."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: cannot open as a videonav store ({e}); pass another --store") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- videos -------------------------------------------------------------------
    def put_video(self, video_id: str, path: str, content_hash: str, duration: float, probe: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO videos VALUES (?,?,?,?,?,?)",
                             (video_id, path, content_hash, duration, json.dumps(probe, default=str), time.time()))

    def get_video(self, video_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT path, content_hash, duration, probe FROM videos WHERE video_id=?",
                               (video_id,)).fetchone()
        if row is None:
            return None
        return {"video_id": video_id, "path": row[0], "content_hash": row[1], "duration": row[2],
                "probe": json.loads(row[3] or "{}")}

    # -- trees and nodes ----------------------------------------------------------------
    def put_tree_meta(self, key: str, video_id: str, duration: float, meta: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?,?,?)",
                             (key, video_id, duration, json.dumps(meta, default=str), time.time()))

    @staticmethod
    def _node_row(key: str, n: Node) -> tuple[Any, ...]:
        lines = json.dumps([ln.model_dump() for ln in n.lines]) if n.lines else None
        p = n.provenance
        return (key, n.id, n.level, n.start, n.end, n.caption, n.transcript, lines, p.backend, p.model,
                p.prompt_version, time.time())

    def put_node(self, key: str, node: Node) -> None:
        """Persist one node now (one transaction): what makes indexing resumable."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self._node_row(key, node))

    def save_tree(self, key: str, tree: CaptionTree) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?,?,?)",
                             (key, tree.video_id, tree.duration, json.dumps(tree.meta, default=str), time.time()))
            self._db.executemany("INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                 [self._node_row(key, n) for n in tree.nodes()])

    def has_tree(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM trees WHERE tree_key=?", (key,)).fetchone() is not None

    def tree_keys(self, video_id: str | None = None) -> list[str]:
        q = "SELECT tree_key FROM trees" + (" WHERE video_id=?" if video_id else "") + " ORDER BY created"
        return [r[0] for r in self._db.execute(q, (video_id,) if video_id else ())]

    def load_tree(self, key: str) -> CaptionTree:
        row = self._db.execute("SELECT video_id, duration, meta FROM trees WHERE tree_key=?", (key,)).fetchone()
        if row is None:
            raise TreeError(f"no tree {key!r} in store {self.path}")
        tree = CaptionTree(row[0], row[1], json.loads(row[2] or "{}"))
        rows = self._db.execute(
            'SELECT node_id, level, start, "end", caption, transcript, lines, backend, model, prompt_version '
            "FROM nodes WHERE tree_key=? ORDER BY level, length(node_id), node_id", (key,)).fetchall()
        for nid, level, s, e, cap, tr, lines, be, mo, pv in rows:
            tl = tuple(TimedText(**x) for x in json.loads(lines)) if lines else ()
            tree.add(Node(id=nid, level=level, start=s, end=e, caption=cap, transcript=tr, lines=tl,
                          provenance=Provenance(backend=be or "", model=mo or "", prompt_version=pv or "")))
        return tree

    def captioned_ids(self, key: str) -> set[str]:
        rows = self._db.execute("SELECT node_id FROM nodes WHERE tree_key=? AND caption IS NOT NULL", (key,))
        return {r[0] for r in rows}

    def count_nodes(self, key: str) -> int:
        return int(self._db.execute("SELECT count(*) FROM nodes WHERE tree_key=?", (key,)).fetchone()[0])

    # -- key/value cache (QA answers, embeddings metadata) ------------------------------------
    def cache_get(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def cache_put(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO kv VALUES (?,?,?)", (key, json.dumps(value), time.time()))

    # -- runs -----------------------------------------------------------------------
    def save_run(self, run_id: str, kind: str, tree_key: str | None, config: dict[str, Any],
                 result: dict[str, Any], trace: list[Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?)",
                             (run_id, kind, tree_key, time.time(), json.dumps(config, default=str),
                              json.dumps(result, default=str), json.dumps(trace, default=str)))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT kind, tree_key, config, result, trace FROM runs WHERE run_id=?",
                               (run_id,)).fetchone()
        if row is None:
            return None
        return {"run_id": run_id, "kind": row[0], "tree_key": row[1], "config": json.loads(row[2]),
                "result": json.loads(row[3]), "trace": json.loads(row[4])}


def file_hash(path: Path | str, chunk: int = 1 << 20) -> str:
    """Content hash of a file: size + first/last MiB (fast on hour-long videos, stable across copies)."""
    p = Path(path)
    h = hashlib.sha256()
    size = p.stat().st_size
    h.update(str(size).encode())
    with p.open("rb") as f:
        h.update(f.read(chunk))
        if size > 2 * chunk:
            f.seek(-chunk, 2)
            h.update(f.read(chunk))
    return h.hexdigest()
