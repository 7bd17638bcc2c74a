"""Searchable text of every stored node: one row per text field, an FTS5 index and stored vectors.

Why it lives beside the store rather than in it: the ``nodes`` table stays the single source of
truth and everything here is derived from it by SQL triggers, so a node written by any code
path (``put_node`` while indexing, ``save_tree`` on import) is searchable at once, and a store
written before this module existed is back-filled on first use. The schema is only
``CREATE ... IF NOT EXISTS``: dropping these tables loses nothing that cannot be rebuilt.

- ``text_fields``: a node's caption, its speech (transcript, when it has no timed lines) and
  each of its timed lines (subtitle cues, 1-fps captions), each a row of its own. That is the
  supplemental-captions idea: the original caption is kept and the other texts are added beside
  it, so a query may match whichever says it best.
- ``text_fts``: external-content FTS5 (porter stemming) over ``text_fields.text``; ranked with
  ``bm25()``.
- ``text_vectors``: float32 blobs keyed by (embedder, sha1 of the text). Keyed by text rather
  than by row so that rewriting a node with unchanged text (a resumed index, a re-import)
  re-uses its vectors: each distinct text is embedded once per embedder, never per query.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

INDEX_VERSION = "t1"
FIELDS = ("caption", "speech", "line")

_TABLES = """
CREATE TABLE IF NOT EXISTS text_fields (
  id INTEGER PRIMARY KEY, tree_key TEXT NOT NULL, node_id TEXT NOT NULL, level INTEGER,
  start REAL, "end" REAL, field TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT);
CREATE INDEX IF NOT EXISTS text_fields_node ON text_fields(tree_key, node_id);
CREATE INDEX IF NOT EXISTS text_fields_unhashed ON text_fields(text_hash) WHERE text_hash IS NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS text_fts USING fts5(
  text, content='text_fields', content_rowid='id', tokenize='porter unicode61');
CREATE TABLE IF NOT EXISTS text_vectors (
  embedder TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,
  PRIMARY KEY (embedder, text_hash));
CREATE TABLE IF NOT EXISTS text_index_meta (key TEXT PRIMARY KEY, value TEXT);
"""

_FILL = """
  DELETE FROM text_fields WHERE tree_key = NEW.tree_key AND node_id = NEW.node_id;
  INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
    SELECT NEW.tree_key, NEW.node_id, NEW.level, NEW.start, NEW."end", 'caption', NEW.caption
    WHERE NEW.caption IS NOT NULL AND trim(NEW.caption) <> '';
  INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
    SELECT NEW.tree_key, NEW.node_id, NEW.level, NEW.start, NEW."end", 'speech', NEW.transcript
    WHERE NEW.transcript IS NOT NULL AND trim(NEW.transcript) <> ''
      AND (NEW.lines IS NULL OR json_array_length(NEW.lines) = 0);
  INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
    SELECT NEW.tree_key, NEW.node_id, NEW.level, NEW.start, NEW."end", 'line', json_extract(j.value, '$.text')
    FROM json_each(CASE WHEN json_valid(NEW.lines) THEN NEW.lines ELSE '[]' END) AS j
    WHERE trim(coalesce(json_extract(j.value, '$.text'), '')) <> '';
"""

_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS text_fields_ai AFTER INSERT ON text_fields BEGIN
  INSERT INTO text_fts(rowid, text) VALUES (NEW.id, NEW.text); END;
CREATE TRIGGER IF NOT EXISTS text_fields_ad AFTER DELETE ON text_fields BEGIN
  INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text); END;
CREATE TRIGGER IF NOT EXISTS nodes_text_ai AFTER INSERT ON nodes BEGIN {_FILL} END;
CREATE TRIGGER IF NOT EXISTS nodes_text_au AFTER UPDATE ON nodes BEGIN {_FILL} END;
CREATE TRIGGER IF NOT EXISTS nodes_text_ad AFTER DELETE ON nodes BEGIN
  DELETE FROM text_fields WHERE tree_key = OLD.tree_key AND node_id = OLD.node_id; END;
"""

_BACKFILL = """
INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
  SELECT tree_key, node_id, level, start, "end", 'caption', caption FROM nodes
  WHERE caption IS NOT NULL AND trim(caption) <> '';
INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
  SELECT tree_key, node_id, level, start, "end", 'speech', transcript FROM nodes
  WHERE transcript IS NOT NULL AND trim(transcript) <> '' AND (lines IS NULL OR json_array_length(lines) = 0);
INSERT INTO text_fields(tree_key, node_id, level, start, "end", field, text)
  SELECT n.tree_key, n.node_id, n.level, n.start, n."end", 'line', json_extract(j.value, '$.text')
  FROM nodes AS n, json_each(CASE WHEN json_valid(n.lines) THEN n.lines ELSE '[]' END) AS j
  WHERE trim(coalesce(json_extract(j.value, '$.text'), '')) <> '';
"""


def ensure(db: sqlite3.Connection) -> None:
    """Create the tables and triggers (idempotent) and back-fill nodes written before them.

    Called by ``Store`` on open, so triggers exist before the first node is written; a store
    whose ``nodes`` table is missing (not a videonav store) is left alone."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='nodes' AND type='table'").fetchone() is None:
        return
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='text_index_meta'").fetchone() is not None and \
            db.execute("SELECT value FROM text_index_meta WHERE key='version'").fetchone() == (INDEX_VERSION,):
        return
    db.executescript(_TABLES + _TRIGGERS)
    if db.in_transaction:
        db.commit()
    db.execute("BEGIN IMMEDIATE")  # one back-fill even when two processes open the store at once
    try:
        if db.execute("SELECT value FROM text_index_meta WHERE key='version'").fetchone() != (INDEX_VERSION,):
            db.execute("DELETE FROM text_fields")
            for stmt in _BACKFILL.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute("INSERT OR REPLACE INTO text_index_meta VALUES ('version', ?)", (INDEX_VERSION,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.rollback()
        raise


_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("a an the of on in at to is was were be been are am do does did what which who whom whose when "
                  "where why how this that these those there it its for with from by and or as into onto than "
                  "then he she they them his her their him i you we me my your our".split())
MAX_TERMS = 32


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: the query's distinct words, each quoted, OR-ed (BM25 ranks by
    how many match and how rare they are). Quotes, ``*``, ``NEAR(``, column filters and operators
    in the user's text become plain words or vanish, so no query can raise a syntax error.

    >>> fts_query('where is "NEAR(x* AND y)" shown?')
    '"near" OR "x" OR "y" OR "shown"'
    >>> fts_query('  "*" ') is None
    True
    """
    words = [w.lower() for w in _TOKEN.findall(text[:20000])]
    keep = [w for w in dict.fromkeys(words) if w not in _STOP and w != "_"] or list(dict.fromkeys(words))
    keep = [w.replace('"', "") for w in keep if w.strip("_")][:MAX_TERMS]
    return " OR ".join(f'"{w}"' for w in keep) if keep else None


@dataclass(frozen=True)
class FieldHit:
    """One text field of one node and its score (higher is better for every retriever)."""

    field_id: int
    tree_key: str
    node_id: str
    level: int
    start: float
    end: float
    field: str
    text: str
    score: float


def _where(trees: Sequence[str] | None, fields: Iterable[str] | None, params: list[object]) -> str:
    sql = ""
    if trees is not None:
        sql += f" AND f.tree_key IN ({','.join('?' * len(trees))})"
        params.extend(trees)
    if fields is not None:
        fl = list(fields)
        sql += f" AND f.field IN ({','.join('?' * len(fl))})"
        params.extend(fl)
    return sql


def lexical(db: sqlite3.Connection, query: str, *, trees: Sequence[str] | None = None,
            fields: Iterable[str] | None = None, limit: int = 200) -> list[FieldHit]:
    """The ``limit`` best field rows by BM25 (score = -bm25, so higher is better)."""
    expr = fts_query(query)
    if expr is None or (trees is not None and not trees):
        return []
    params: list[object] = [expr]
    extra = _where(trees, fields, params)
    params.append(int(limit))
    sql = ('SELECT f.id, f.tree_key, f.node_id, f.level, f.start, f."end", f.field, f.text, bm25(text_fts) '
           "FROM text_fts JOIN text_fields AS f ON f.id = text_fts.rowid "
           f"WHERE text_fts MATCH ?{extra} ORDER BY bm25(text_fts) LIMIT ?")
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # belt and braces: fts_query should make this unreachable
        return []
    return [FieldHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], -float(r[8])) for r in rows]


def leaf_flags(db: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> list[bool]:
    """Whether each (tree_key, node_id) is a leaf: no stored node has it as parent (path ids)."""
    out = []
    for tk, nid in keys:
        if nid == "root":
            row = db.execute("SELECT 1 FROM nodes WHERE tree_key=? AND node_id<>'root' LIMIT 1", (tk,)).fetchone()
        else:
            row = db.execute("SELECT 1 FROM nodes WHERE tree_key=? AND node_id>? AND node_id<? LIMIT 1",
                             (tk, nid + ".", nid + "/")).fetchone()
        out.append(row is None)
    return out


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


def hash_pending(db: sqlite3.Connection) -> int:
    """Fill ``text_hash`` of rows written since the last pass; returns how many."""
    rows = db.execute("SELECT id, text FROM text_fields WHERE text_hash IS NULL").fetchall()
    if rows:
        with db:
            db.executemany("UPDATE text_fields SET text_hash=? WHERE id=?", [(text_hash(t), i) for i, t in rows])
    return len(rows)


def missing_texts(db: sqlite3.Connection, embedder: str, limit: int | None = None) -> list[tuple[str, str]]:
    """(hash, text) of distinct texts that have no vector for ``embedder`` yet."""
    hash_pending(db)
    sql = ("SELECT f.text_hash, min(f.text) FROM text_fields AS f LEFT JOIN text_vectors AS v "
           "ON v.embedder=? AND v.text_hash=f.text_hash WHERE v.text_hash IS NULL GROUP BY f.text_hash")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [(h, t) for h, t in db.execute(sql, (embedder,))]


def put_vectors(db: sqlite3.Connection, embedder: str, hashes: Sequence[str], vecs: np.ndarray) -> None:
    v = np.ascontiguousarray(vecs, dtype=np.float32)
    with db:
        db.executemany("INSERT OR REPLACE INTO text_vectors VALUES (?,?,?,?)",
                       [(embedder, h, v.shape[1], v[i].tobytes()) for i, h in enumerate(hashes)])


def fingerprint(db: sqlite3.Connection, embedder: str) -> str:
    """Changes whenever rows or vectors change: names a valid vector-matrix cache."""
    a = db.execute("SELECT count(*), coalesce(max(id), 0) FROM text_fields").fetchone()
    b = db.execute("SELECT count(*) FROM text_vectors WHERE embedder=?", (embedder,)).fetchone()
    return f"{INDEX_VERSION}-{a[0]}-{a[1]}-{b[0]}"


def vector_rows(db: sqlite3.Connection, embedder: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str],
                                                                   np.ndarray, np.ndarray]:
    """Every field row that has a vector: (ids, matrix, tree_keys, node_ids, fields (codes), levels)."""
    rows = db.execute("SELECT f.id, f.tree_key, f.node_id, f.field, f.level, v.vec FROM text_fields AS f "
                      "JOIN text_vectors AS v ON v.embedder=? AND v.text_hash=f.text_hash ORDER BY f.id",
                      (embedder,)).fetchall()
    if not rows:
        return (np.zeros(0, np.int64), np.zeros((0, 0), np.float32), [], [], np.zeros(0, np.int8),
                np.zeros(0, np.int16))
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    mat = np.frombuffer(b"".join(r[5] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    codes = np.fromiter((FIELDS.index(r[3]) if r[3] in FIELDS else 0 for r in rows), np.int8, len(rows))
    levels = np.fromiter((r[4] or 0 for r in rows), np.int16, len(rows))
    return ids, mat, [r[1] for r in rows], [r[2] for r in rows], codes, levels


def fetch_fields(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[str, str, int, float, float, str, str]]:
    """Row details for field ids: {id: (tree_key, node_id, level, start, end, field, text)}."""
    out: dict[int, tuple[str, str, int, float, float, str, str]] = {}
    ids = list(ids)
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        q = ('SELECT id, tree_key, node_id, level, start, "end", field, text FROM text_fields '
             f"WHERE id IN ({','.join('?' * len(part))})")
        for r in db.execute(q, part):
            out[r[0]] = (r[1], r[2], r[3], r[4], r[5], r[6], r[7])
    return out
