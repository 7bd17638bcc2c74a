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
from typing import Any

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
# Words that say where in a video something happens or that it is a question about a video, not
# what is seen: captions almost never say them, so BM25 weighs them as rare and matches the odd
# caption that does ("the end of the table"). Dropped like stopwords (NExT-QA tuning half: video
# retrieval lexical R@1 +1 point, hybrid +0.3; moment retrieval unchanged).
_QUESTION = frozenset("after before video videos end ends ending start starts started starting begin begins began "
                      "beginning middle happen happens happened happening time times while during first last final "
                      "finally".split())
# Words questions use and image captions do not ("lady": 343 tuning questions, 4 of 570 videos'
# captions; they say "woman"): each is searched as the caption words instead or as well.
_SYNONYMS = {"lady": ("woman",), "ladies": ("woman",), "kid": ("child",), "kids": ("child",), "grey": ("gray",),
             "guy": ("man",), "guys": ("man",), "boy": ("boy", "child"), "boys": ("boy", "child"),
             "girl": ("girl", "child"), "girls": ("girl", "child"), "baby": ("baby", "child", "infant", "toddler"),
             "babies": ("baby", "child", "infant", "toddler")}
MAX_TERMS = 32


def content_tokens(text: str) -> list[str]:
    """The text's lower-cased words in order, stop and position words dropped: what
    :func:`fts_query` matches on (before synonyms), and the words a query's adjacent pairs are
    read from (``tools.search_local.query_pairs``)."""
    words = (w.lower() for w in _TOKEN.findall(text[:20000]))
    return [w for w in words if w not in _STOP and w not in _QUESTION and w != "_"]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: the query's distinct words, each quoted, OR-ed (BM25 ranks by
    how many match and how rare they are). Quotes, ``*``, ``NEAR(``, column filters and operators
    in the user's text become plain words or vanish, so no query can raise a syntax error.

    >>> fts_query('where is "NEAR(x* AND y)" shown?')
    '"near" OR "x" OR "y" OR "shown"'
    >>> fts_query('  "*" ') is None
    True

    Stopwords and position words (:data:`_QUESTION`) are dropped unless nothing else is left, and
    question words captions do not use become the ones they do (:data:`_SYNONYMS`):

    >>> fts_query("what did the lady do after the boy fell")
    '"woman" OR "boy" OR "child" OR "fell"'
    >>> fts_query("the end")
    '"the" OR "end"'
    """
    keep = list(dict.fromkeys(content_tokens(text))) or \
        list(dict.fromkeys(w.lower() for w in _TOKEN.findall(text[:20000])))
    keep = list(dict.fromkeys(s for w in keep for s in _SYNONYMS.get(w, (w,))))
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


SCORE_BUDGET = 20000
"""Rows bm25() may score per query, library-wide. Scoring, not matching, is what costs (~5-10 us a
row): an OR of common words matches most of a 300k-row library. Past the budget the most
frequent words (lowest IDF, least weight in BM25 anyway) are dropped; if even the rarest word
alone is over it, all words must match (AND)."""


def _doc_freqs(db: sqlite3.Connection, words: list[str]) -> dict[str, int]:
    """Rows containing each word, from the FTS vocabulary. Index terms are porter stems, which are
    (nearly always) prefixes of the word: the longest vocabulary term that prefixes it is taken."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS text_fts_vocab USING fts5vocab(text_fts, 'row')")
    token = (id(db), db.execute("SELECT max(id) FROM text_fields").fetchone())
    if _DF.get("token") != token:  # counting a common word reads its whole doclist: keep the counts
        _DF.clear()
        _DF["token"] = token
    out = {}
    for w in words:
        if w in _DF:
            out[w] = _DF[w]
            continue
        rows = db.execute("SELECT term, doc FROM text_fts_vocab WHERE term >= ? AND term <= ?",
                          (w[:max(2, len(w) - 4)], w)).fetchall()
        best = max((t for t, _ in rows if w.startswith(t)), key=len, default=None)
        out[w] = _DF[w] = dict(rows)[best] if best is not None else 0
    return out


_DF: dict[str, Any] = {}


def _budgeted(db: sqlite3.Connection, expr: str) -> str:
    words = [w.strip('"') for w in expr.split(" OR ")]
    try:
        df = _doc_freqs(db, words)
    except sqlite3.Error:
        return expr
    if sum(df.values()) <= SCORE_BUDGET:
        return expr
    order = sorted(words, key=lambda w: df[w])
    if df[order[0]] > SCORE_BUDGET and len(order) > 1:
        return " AND ".join(f'"{w}"' for w in order)
    keep: list[str] = []
    total = 0
    for w in order:
        if keep and total + df[w] > SCORE_BUDGET:
            break
        keep.append(w)
        total += df[w]
    return " OR ".join(f'"{w}"' for w in keep)


def lexical(db: sqlite3.Connection, query: str, *, trees: Sequence[str] | None = None,
            fields: Iterable[str] | None = None, limit: int = 200) -> list[FieldHit]:
    """The ``limit`` best field rows by BM25 (score = -bm25, so higher is better).

    Within a few trees the FTS scan is bounded to their rows' id range (their rows are written
    together, so the range is tight); library-wide, common words are dropped past
    :data:`SCORE_BUDGET`, and an AND that matches nothing falls back to the plain OR."""
    expr = fts_query(query)
    if expr is None or (trees is not None and not trees):
        return []
    if trees is None:
        strict = _budgeted(db, expr)
        hits = _lexical(db, strict, trees, fields, limit, _cutoff(db, strict))
        return hits if hits or strict == expr else _lexical(db, expr, trees, fields, limit, _cutoff(db, expr))
    return _lexical(db, expr, trees, fields, limit)


def _cutoff(db: sqlite3.Connection, expr: str) -> int | None:
    """For an expression still matching more than the budget (one very common word): the lowest
    rowid among its ``SCORE_BUDGET // 4`` newest matches, so only those are scored (a documented
    approximation: such a word ranks little by itself)."""
    if " AND " in expr or " OR " in expr or _DF.get(expr.strip('"'), 0) <= SCORE_BUDGET:
        return None
    try:
        row = db.execute("SELECT rowid FROM text_fts WHERE text_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                         (expr, max(1, SCORE_BUDGET // 4))).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def _lexical(db: sqlite3.Connection, expr: str, trees: Sequence[str] | None, fields: Iterable[str] | None,
             limit: int, min_rowid: int | None = None) -> list[FieldHit]:
    params: list[object] = [expr]
    extra = ""
    if min_rowid is not None:
        extra, params = " AND text_fts.rowid > ?", [expr, min_rowid]
    if trees is not None:
        marks = ",".join("?" * len(trees))
        lo, hi = db.execute(f"SELECT min(id), max(id) FROM text_fields WHERE tree_key IN ({marks})",
                            list(trees)).fetchone()
        if lo is None:
            return []
        extra, params = " AND text_fts.rowid BETWEEN ? AND ?", [expr, lo, hi]
    extra += _where(trees, fields, params)
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


def _trees_sql(trees: Sequence[str] | None, params: list[object]) -> str:
    if trees is None:
        return ""
    params.extend(trees)
    return f" AND f.tree_key IN ({','.join('?' * len(trees))})"


def missing_texts(db: sqlite3.Connection, embedder: str, trees: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(hash, text) of distinct texts (of ``trees``, default all) with no vector for ``embedder`` yet."""
    hash_pending(db)
    params: list[object] = [embedder]
    sql = ("SELECT f.text_hash, min(f.text) FROM text_fields AS f LEFT JOIN text_vectors AS v "
           "ON v.embedder=? AND v.text_hash=f.text_hash WHERE v.text_hash IS NULL"
           f"{_trees_sql(trees, params)} GROUP BY f.text_hash")
    return [(h, t) for h, t in db.execute(sql, params)]


def put_vectors(db: sqlite3.Connection, embedder: str, hashes: Sequence[str], vecs: np.ndarray) -> None:
    v = np.ascontiguousarray(vecs, dtype=np.float32)
    with db:
        db.executemany("INSERT OR REPLACE INTO text_vectors VALUES (?,?,?,?)",
                       [(embedder, h, v.shape[1], v[i].tobytes()) for i, h in enumerate(hashes)])


def fingerprint(db: sqlite3.Connection, embedder: str) -> str:
    """Changes whenever rows or vectors are added (every rewrite adds rows): names a valid matrix
    cache. Max ids, not counts: ``count(*)`` reads a whole 300k-row table. A node deleted and not
    rewritten leaves stale ids in a cached matrix, which search drops when it looks them up."""
    a = db.execute("SELECT coalesce(max(id), 0) FROM text_fields").fetchone()[0]
    b = db.execute("SELECT coalesce(max(rowid), 0) FROM text_vectors").fetchone()[0]
    return f"{INDEX_VERSION}-{a}-{b}-{embedder}"


def vector_rows(db: sqlite3.Connection, embedder: str, trees: Sequence[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[str], list[str], np.ndarray, np.ndarray]:
    """Field rows (of ``trees``, default all) with a vector: (ids, matrix, tree_keys, node_ids, field codes, levels)."""
    params: list[object] = [embedder]
    rows = db.execute("SELECT f.id, f.tree_key, f.node_id, f.field, f.level, v.vec FROM text_fields AS f "
                      "JOIN text_vectors AS v ON v.embedder=? AND v.text_hash=f.text_hash WHERE 1"
                      f"{_trees_sql(trees, params)} ORDER BY f.id", params).fetchall()
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
