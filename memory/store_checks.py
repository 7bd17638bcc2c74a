"""Checks that keep a videonav store from touching files that are not its own, and typed store errors.

Why a separate module: :mod:`videonav.memory.store` is about rows; this is about the file. Before
SQLite opens a path for writing, :func:`preflight` reads the 100-byte header directly (no SQLite
connection, so nothing can be written): a file that is not SQLite, or an SQLite database of another
application (``PRAGMA application_id``), is refused untouched. An unmarked SQLite file is inspected
read-only and accepted only when its tables are videonav-shaped (a store made before stores were
marked); it is then marked and migrated by :class:`~videonav.memory.store.Store`.
:func:`sqlite_errors` turns ``sqlite3`` exceptions into :class:`StoreError` subclasses whose
message says what happened, that what was stored before is kept, and what to do.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

APPLICATION_ID = 0x564E4156  # "VNAV": PRAGMA application_id of every videonav store
SQLITE_MAGIC = b"SQLite format 3\x00"

# table -> columns a videonav store has (any schema version); other videonav modules may add
# tables whose names start with one of EXTRA_TABLE_PREFIXES (the text index: text_*)
STORE_TABLES: dict[str, set[str]] = {
    "videos": {"video_id", "path", "content_hash", "duration", "probe", "created"},
    "trees": {"tree_key", "video_id", "duration", "meta", "created"},
    "nodes": {"tree_key", "node_id", "level", "start", "end", "caption", "transcript", "lines"},
    "kv": {"key", "value", "created"},
    "runs": {"run_id", "kind", "tree_key", "created", "config", "result", "trace"},
}
EXTRA_TABLE_PREFIXES = ("text_", "sqlite_")


class StoreError(RuntimeError):
    """The store file cannot be opened or is not a videonav store."""

    user_error = True


class NotAStore(StoreError):
    """The path holds some other file or database; it is left byte-identical."""


class StoreCorrupt(StoreError):
    """SQLite reports the store damaged (``database disk image is malformed``)."""


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full."""


class StoreMissing(StoreError):
    """A command that only reads found no store at the path."""


def _describe_unopenable(p: Path) -> str | None:
    """Why SQLite would say only "unable to open database file", in words."""
    if p.is_symlink() and not p.exists():
        try:
            p.stat()
        except OSError as e:
            if e.errno == errno.ELOOP:
                return f"{p}: symbolic link loop; point --store at a real file"
        return f"{p}: dangling symbolic link (to {os.readlink(p)}); point --store at an existing file or a new path"
    if p.is_dir():
        return f"{p}: is a directory; pass a file path such as {p / 'store.sqlite'} as --store"
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        return f"{p}: {parent} is a file, not a directory; pass a --store path inside a directory"
    return None


def preflight(p: Path, create: bool) -> bool:
    """Refuse a path SQLite must not open for us; returns whether the store is new (created now).

    Reads bytes only: a foreign file is never opened by SQLite in read-write mode.
    """
    why = _describe_unopenable(p)
    if why:
        raise StoreError(why)
    if not p.exists():
        if not create:
            raise StoreMissing(f"{p}: no store there; run `videonav index VIDEO --store {p}` (or `videonav tree "
                               "import`) first, or pass the --store you indexed into")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{p}: cannot create the store's directory ({e.strerror}); pass --store "
                             "in a writable directory") from None
        if not os.access(p.parent, os.W_OK | os.X_OK):
            raise StoreError(f"{p}: cannot create a store in read-only directory {p.parent}; pass --store "
                             "in a writable directory")
        return True
    try:
        with p.open("rb") as f:
            head = f.read(100)
    except OSError as e:
        raise StoreError(f"{p}: cannot read the store ({e.strerror}); check its permissions or pass another "
                         "--store") from None
    if not head:
        return True  # an empty file is a new database to SQLite too
    if not head.startswith(SQLITE_MAGIC):
        raise NotAStore(f"{p}: not an SQLite file, so not a videonav store; videonav left it untouched, "
                        "pass another --store")
    app_id = int.from_bytes(head[68:72], "big") if len(head) >= 72 else 0
    if app_id not in (0, APPLICATION_ID):
        raise NotAStore(f"{p}: an SQLite database of another application (application_id {app_id:#x}); "
                        "videonav left it untouched, pass another --store")
    if app_id == 0:
        _check_unmarked(p)
    if not os.access(p, os.W_OK) or not os.access(p.parent, os.W_OK | os.X_OK):
        where = "file" if not os.access(p, os.W_OK) else f"directory {p.parent}"
        raise StoreError(f"{p}: the store's {where} is read-only (SQLite needs to write beside it even to "
                         "read); copy the store somewhere writable and pass that --store")
    return False


def _check_unmarked(p: Path) -> None:
    """An SQLite file without our application_id: accept it only if it looks like an older store."""
    try:
        db = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            cols = {t: {r[1] for r in db.execute(f'PRAGMA table_info("{t}")')} for t in tables
                    if t in STORE_TABLES}
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        if _is_corrupt(e):
            raise StoreCorrupt(f"{p}: the store is damaged ({e}); nothing was written. {recover_hint(p)}") from None
        raise NotAStore(f"{p}: cannot be read as an SQLite database ({e}); videonav left it untouched, "
                        "pass another --store") from None
    foreign = [t for t in tables if t not in STORE_TABLES and not t.startswith(EXTRA_TABLE_PREFIXES)]
    odd = [t for t, c in cols.items() if not STORE_TABLES[t] <= c]
    if foreign or odd:
        shown = ", ".join(sorted(foreign + odd)[:6])
        raise NotAStore(f"{p}: an SQLite database that is not a videonav store (tables {shown}); videonav "
                        "left it untouched, pass another --store")


def recover_hint(p: Path) -> str:
    return (f"Recover what it holds with `sqlite3 {p} .recover | sqlite3 {p.with_suffix('.recovered.sqlite')}` "
            "and pass that as --store, or start a new --store")


def _is_corrupt(e: BaseException) -> bool:
    msg = str(e).lower()
    return "malformed" in msg or "not a database" in msg or "file is not a database" in msg


@contextmanager
def sqlite_errors(p: Path, doing: str, writing: bool = True) -> Iterator[None]:
    """Map ``sqlite3`` errors raised while ``doing`` something to typed, one-line store errors."""
    try:
        yield
    except sqlite3.Error as e:
        raise store_error(p, e, doing, writing) from None


def store_error(p: Path | str, e: sqlite3.Error, doing: str, writing: bool = True) -> StoreError:
    """The typed error for ``e``: what happened, that earlier work is kept, and what to do."""
    p = Path(p)
    msg = str(e).lower()
    kept = "what was stored before is kept" if writing else "nothing was written"
    if "disk is full" in msg or "database or disk is full" in msg:
        return StoreFull(f"{p}: disk full while {doing}; {kept}. Free some space and rerun the same "
                         "command to continue")
    if _is_corrupt(e):
        return StoreCorrupt(f"{p}: the store is damaged ({e}) while {doing}; {kept}"
                            f"{' but may be incomplete' if writing else ''}. {recover_hint(p)}")
    if "readonly" in msg or "read-only" in msg:
        return StoreError(f"{p}: the store is read-only ({e}); copy it somewhere writable and pass that --store")
    if "locked" in msg or "busy" in msg:
        return StoreError(f"{p}: the store stayed locked by another videonav process while {doing}; "
                          f"{kept}. Rerun when the other run is done")
    if "unable to open" in msg:
        why = _describe_unopenable(p) or f"{p}: SQLite cannot open it ({e})"
        return StoreError(f"{why}; pass another --store")
    return StoreError(f"{p}: SQLite error while {doing} ({e}); {kept}. If it persists, pass another --store")
