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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videonav.memory.store_checks import (
    APPLICATION_ID,
    NotAStore,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreMissing,
    preflight,
    recover_hint,
    sqlite_errors,
)
from videonav.memory.tree import CaptionTree, Node, Provenance, TimedText, TreeError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "NotAStore", "Store", "StoreCorrupt", "StoreError",
           "StoreFull", "StoreMissing", "file_hash", "tree_key"]

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


Migration = Callable[[sqlite3.Connection], None]


def _v1_base_tables(db: sqlite3.Connection) -> None:
    for stmt in _SCHEMA.split(";"):  # not executescript: that would commit the migration's transaction
        if stmt.strip():
            db.execute(stmt)


MIGRATIONS: dict[int, Migration] = {1: _v1_base_tables}
"""``PRAGMA user_version`` -> the step that brings a store from the previous version to it.

The schema-version hook: a change to the store's tables adds ``MIGRATIONS[n + 1]`` (idempotent DDL,
run inside one transaction with the version bump) and never edits an old step. Stores made before
stores were marked have ``user_version`` 0 and get every step. Tables owned by other modules that
version themselves (the text index) are set up after the migrations, in :meth:`Store._extensions`.
"""
SCHEMA_VERSION = max(MIGRATIONS)


def default_store_path() -> Path:
    return Path.home() / ".cache" / "videonav" / "store.sqlite"


def tree_key(video_hash: str, **settings: Any) -> str:
    """Stable key naming everything that changes a tree's captions.

    >>> tree_key("abc", leaf=10, captioner="classic") == tree_key("abc", captioner="classic", leaf=10)
    True
    """
    blob = json.dumps(settings, sort_keys=True, default=str)
    return f"{video_hash[:16]}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def _reads(doing: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Reads get the same typed errors as writes (a damaged page can surface on any query)."""
    import functools

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(self: Store, *a: Any, **k: Any) -> Any:
            with sqlite_errors(self.path, doing, writing=False):
                return fn(self, *a, **k)
        return run
    return wrap


class Store:
    """Thin, typed access to the SQLite file; one connection per Store."""

    def __init__(self, path: Path | str | None = None, *, create: bool = True) -> None:
        """Open (``create``: or make) a videonav store; any other file is refused untouched.

        Raises :class:`NotAStore` for a file that is not a videonav store (left byte-identical),
        :class:`StoreMissing` when ``create`` is false and there is no store, else :class:`StoreError`.
        """
        self.path = Path(path) if path else default_store_path()
        new = preflight(self.path, create)
        self._checked = new  # a new store needs no integrity check before its first write
        with sqlite_errors(self.path, "opening the store"):
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            try:
                self._migrate(new)
                self._extensions()
            except BaseException:
                self._db.close()
                raise

    def _migrate(self, new: bool) -> None:
        db = self._db
        if new:  # the mark goes into the header before WAL mode, so preflight sees it in the file
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            db.close()
            raise StoreError(f"{self.path}: store schema version {version} is newer than this videonav reads "
                             f"({SCHEMA_VERSION}); upgrade videonav or pass another --store")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if version == SCHEMA_VERSION:
            return
        self._check_integrity()
        db.execute("BEGIN IMMEDIATE")
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])  # another process may have migrated
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](db)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # put the marks into the main file's header

    def _extensions(self) -> None:
        """Self-versioning tables of other modules, created once the base schema is current."""
        from videonav.memory.text_index import ensure as ensure_text_index  # search rows follow nodes

        ensure_text_index(self._db)

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check`` once, before the first write to an existing store: never write into a
        damaged file (SQLite would report it only later, after rows went in)."""
        if self._checked:
            return
        try:
            rows = [str(r[0]) for r in self._db.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as e:  # too damaged to even check
            rows = [str(e)]
        if rows != ["ok"]:
            raise StoreCorrupt(f"{self.path}: the store is damaged (quick_check: {'; '.join(rows)[:200]}); nothing "
                               f"was written. {recover_hint(self.path)}")
        self._checked = True

    def _write(self, doing: str) -> Any:
        """Context for one write transaction: integrity checked first, sqlite errors typed."""
        from contextlib import ExitStack

        self._check_integrity()
        stack = ExitStack()
        stack.enter_context(sqlite_errors(self.path, doing))
        stack.enter_context(self._db)
        return stack

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- videos -------------------------------------------------------------------
    def put_video(self, video_id: str, path: str, content_hash: str, duration: float, probe: dict[str, Any]) -> None:
        with self._write("storing the video"):
            self._db.execute("INSERT OR REPLACE INTO videos VALUES (?,?,?,?,?,?)",
                             (video_id, path, content_hash, duration, json.dumps(probe, default=str), time.time()))

    @_reads("reading a video")
    def get_video(self, video_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT path, content_hash, duration, probe FROM videos WHERE video_id=?",
                               (video_id,)).fetchone()
        if row is None:
            return None
        return {"video_id": video_id, "path": row[0], "content_hash": row[1], "duration": row[2],
                "probe": json.loads(row[3] or "{}")}

    # -- trees and nodes ----------------------------------------------------------------
    def put_tree_meta(self, key: str, video_id: str, duration: float, meta: dict[str, Any]) -> None:
        with self._write("storing the tree"):
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
        with self._write("storing a caption"):
            self._db.execute("INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self._node_row(key, node))

    def save_tree(self, key: str, tree: CaptionTree) -> None:
        """Store a whole tree in one transaction; a tree that fails validation writes nothing."""
        tree.validate()
        with self._write("storing the tree"):
            # the tree replaces whatever the key held: a re-import with fewer nodes leaves no stale ones
            self._db.execute("DELETE FROM nodes WHERE tree_key=?", (key,))
            self._db.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?,?,?)",
                             (key, tree.video_id, tree.duration, json.dumps(tree.meta, default=str), time.time()))
            self._db.executemany("INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                 [self._node_row(key, n) for n in tree.nodes()])

    @_reads("looking up a tree")
    def has_tree(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM trees WHERE tree_key=?", (key,)).fetchone() is not None

    @_reads("listing trees")
    def tree_keys(self, video_id: str | None = None) -> list[str]:
        q = "SELECT tree_key FROM trees" + (" WHERE video_id=?" if video_id else "") + " ORDER BY created"
        return [r[0] for r in self._db.execute(q, (video_id,) if video_id else ())]

    def load_tree(self, key: str) -> CaptionTree:
        with sqlite_errors(self.path, f"reading tree {key}", writing=False):
            row = self._db.execute("SELECT video_id, duration, meta FROM trees WHERE tree_key=?", (key,)).fetchone()
            if row is None:
                raise TreeError(f"no tree {key!r} in store {self.path}")
            rows = self._db.execute(
                'SELECT node_id, level, start, "end", caption, transcript, lines, backend, model, prompt_version '
                "FROM nodes WHERE tree_key=? ORDER BY level, length(node_id), node_id", (key,)).fetchall()
        try:  # rows written by older versions (e.g. a NaN duration stored as NULL) must not crash readers
            tree = CaptionTree(row[0], row[1], json.loads(row[2] or "{}"))
            for nid, level, s, e, cap, tr, lines, be, mo, pv in rows:
                tl = tuple(TimedText(**x) for x in json.loads(lines)) if lines else ()
                tree.add(Node(id=nid, level=level, start=s, end=e, caption=cap, transcript=tr, lines=tl,
                              provenance=Provenance(backend=be or "", model=mo or "", prompt_version=pv or "")))
            tree.validate()
        except (TypeError, ValueError) as e:
            msg = str(e).splitlines()[0]
            raise TreeError(f"tree {key!r} in store {self.path} is malformed ({type(e).__name__}: {msg}); "
                            "re-import or re-index that video") from None
        return tree

    @_reads("looking up a video's trees")
    def trees_of_video(self, video_hash: str) -> list[str]:
        """Tree keys built from a video file with this content hash, oldest first."""
        keys = [k for k, meta in self._db.execute("SELECT tree_key, meta FROM trees ORDER BY created")
                if video_hash in (meta or "") and json.loads(meta or "{}").get("video_hash") == video_hash]
        return keys

    @_reads("reading captions")
    def captioned_ids(self, key: str) -> set[str]:
        rows = self._db.execute("SELECT node_id FROM nodes WHERE tree_key=? AND caption IS NOT NULL", (key,))
        return {r[0] for r in rows}

    @_reads("counting nodes")
    def count_nodes(self, key: str) -> int:
        return int(self._db.execute("SELECT count(*) FROM nodes WHERE tree_key=?", (key,)).fetchone()[0])

    # -- key/value cache (QA answers, embeddings metadata) ------------------------------------
    @_reads("reading the cache")
    def cache_get(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def cache_put(self, key: str, value: Any) -> None:
        with self._write("writing the cache"):
            self._db.execute("INSERT OR REPLACE INTO kv VALUES (?,?,?)", (key, json.dumps(value), time.time()))

    # -- runs -----------------------------------------------------------------------
    def save_run(self, run_id: str, kind: str, tree_key: str | None, config: dict[str, Any],
                 result: dict[str, Any], trace: list[Any]) -> None:
        with self._write("saving the run record"):  # INSERT: a run record is never overwritten
            self._db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)",
                             (run_id, kind, tree_key, time.time(), json.dumps(config, default=str),
                              json.dumps(result, default=str), json.dumps(trace, default=str)))

    @_reads("reading a run")
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
