"""Bad input and faults through the CLI (issue 13): each gives exit 1 or 2, one line naming the problem
and the fix, no traceback, and leaves the store byte-identical (or never creates one).

Every case builds its inputs in ``tmp_path`` and runs the CLI in process; nothing loads a model
(the checks run before any is loaded), so the whole file stays fast.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from faultfix import FAST, faststart_mp4, foreign_db, good_tree, make_good_store, node_edit, run, snapshot, write

from videonav.memory.store import Store


@pytest.fixture()
def good_store(tmp_path: Path) -> Path:
    return make_good_store(tmp_path)


# Each case: (tmp_path, good_store) -> (argv, store path the run must leave as it was, expected words)
Case = Callable[[Path, Path], tuple[list[str], Path, str]]


def _import(content: str | bytes, name: str = "t.json") -> Case:
    def case(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
        f = write(tmp / name, content)
        return ["tree", "import", str(f), "--store", str(store), *FAST], store, ""
    return case


def _import_obj(d: object, expect: str) -> Case:
    def case(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
        f = write(tmp / "t.json", json.dumps(d, allow_nan=True))
        return ["tree", "import", str(f), "--store", str(store), *FAST], store, expect
    return case


def _nan_duration(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    f = write(tmp / "t.json", json.dumps(good_tree()).replace('"duration": 20.0', '"duration": NaN'))
    return ["tree", "import", str(f), "--store", str(store), *FAST], store, "NaN"


def _inf_end(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    f = write(tmp / "t.json", json.dumps(good_tree()).replace('"end": 20,', '"end": Infinity,', 1))
    return ["tree", "import", str(f), "--store", str(store), *FAST], store, "Infinity"


def _deep(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    f = write(tmp / "t.json", "[" * 200_000 + "]" * 200_000)
    return ["tree", "import", str(f), "--store", str(store), *FAST], store, "nested too deeply"


def _deep_chapters(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    f = write(tmp / "t.json", '{"a":' * 100_000 + "1" + "}" * 100_000)
    return ["chapters", "--tree", str(f), "--store", str(store), *FAST], store, "nested too deeply"


def _dangling(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    link = tmp / "link.json"
    link.symlink_to(tmp / "gone.json")
    return ["tree", "import", str(link), "--store", str(store), *FAST], store, "dangling symbolic link"


def _loop(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    a, b = tmp / "a.json", tmp / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    return ["tree", "import", str(a), "--store", str(store), *FAST], store, "symbolic link loop"


def _missing(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    return ["tree", "import", str(tmp / "nope.json"), "--store", str(store), *FAST], store, "no such file"


def _dir_as_file(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    (tmp / "d.json").mkdir()
    return ["tree", "import", str(tmp / "d.json"), "--store", str(store), *FAST], store, "is a directory"


def _into(store_maker: Callable[[Path], Path], expect: str) -> Case:
    """Import a good tree into a store path that is not a usable videonav store."""
    def case(tmp: Path, _store: Path) -> tuple[list[str], Path, str]:
        f = write(tmp / "t.json", json.dumps(good_tree()))
        target = store_maker(tmp)
        return ["tree", "import", str(f), "--store", str(target), *FAST], target, expect
    return case


def _db_with_nodes(tmp: Path) -> Path:
    p = tmp / "graph.sqlite"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE nodes (id INTEGER PRIMARY KEY, label TEXT)")
    db.commit()
    db.close()
    return p


def _other_app(tmp: Path) -> Path:
    p = tmp / "app.sqlite"
    db = sqlite3.connect(p)
    db.execute("PRAGMA application_id=1234")
    db.execute("CREATE TABLE videos (video_id TEXT)")
    db.commit()
    db.close()
    return p


def _text_file(tmp: Path) -> Path:
    return write(tmp / "notes.sqlite", "just some notes\n")


def _directory(tmp: Path) -> Path:
    (tmp / "storedir").mkdir()
    return tmp / "storedir"


def _newer(tmp: Path) -> Path:
    p = tmp / "newer.sqlite"
    Store(p).close()
    db = sqlite3.connect(p)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    return p


def _damaged(tmp: Path) -> Path:
    p = tmp / "damaged.sqlite"
    with Store(p) as s:
        for i in range(300):
            s.cache_put(f"k{i}", "x" * 400)
    db = sqlite3.connect(p)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw = bytearray(p.read_bytes())
    page = 4096
    raw[3 * page: 3 * page + 200] = b"\xff" * 200  # a b-tree page's header: quick_check reports it
    p.write_bytes(bytes(raw))
    return p


def _ask(*words: str, options: list[str] | None = None) -> Case:
    def case(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
        f = write(tmp / "cap.json", json.dumps({"0": "a dog runs", "5": "a cat sleeps"}))
        opts = ["--options", *options] if options is not None else []
        return ["ask", "--tree", str(f), *words, *opts, "--store", str(store), *FAST], store, ""
    return case


def _chapters(*flags: str, expect: str) -> Case:
    def case(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
        f = write(tmp / "t.json", json.dumps(good_tree()))
        return ["chapters", "--tree", str(f), *flags, "--store", str(store), *FAST], store, expect
    return case


def _show_unindexed(tmp: Path, _store: Path) -> tuple[list[str], Path, str]:
    video = write(tmp / "movie.mp4", b"\x00" * 64)
    return ["tree", "show", str(video), "--store", str(tmp / "fresh.sqlite")], tmp / "fresh.sqlite", "no store"


def _show_unindexed_in_store(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
    video = write(tmp / "movie.mp4", b"\x00" * 64)
    return ["tree", "show", str(video), "--store", str(store)], store, "not indexed"


def _chapters_unknown_id(tmp: Path, _store: Path) -> tuple[list[str], Path, str]:
    return ["chapters", "no-such-video", "--store", str(tmp / "absent.sqlite"), *FAST], tmp / "absent.sqlite", \
        "no store"


def _index(make: Callable[[Path], Path], expect: str) -> Case:
    def case(tmp: Path, store: Path) -> tuple[list[str], Path, str]:
        return ["index", str(make(tmp)), "--store", str(store), "--no-progress"], store, expect
    return case


def _random_bytes(tmp: Path) -> Path:
    return write(tmp / "noise.mp4", bytes(range(256)) * 64)


CASES: dict[str, Case] = {
    # tree import: every field checked before anything is stored
    "import-nan-duration": _nan_duration,
    "import-infinite-end": _inf_end,
    "import-caption-object": _import_obj(node_edit(1, caption={"text": "x"}), "caption"),
    "import-caption-list": _import_obj(node_edit(2, caption=["x"]), "caption"),
    "import-duplicate-ids": _import_obj(good_tree(nodes=[*good_tree()["nodes"], good_tree()["nodes"][1]]),
                                        "duplicate node id"),
    "import-child-outside-parent": _import_obj(node_edit(2, end=25), "outside its parent"),
    "import-siblings-out-of-order": _import_obj(good_tree(nodes=[
        {"id": "root", "start": 0, "end": 20, "level": 0}, {"id": "1", "start": 10, "end": 20, "level": 1},
        {"id": "2", "start": 0, "end": 10, "level": 1}]), "before its previous sibling"),
    "import-end-before-start": _import_obj(node_edit(1, start=8, end=2), "ends before it starts"),
    "import-level-mismatch": _import_obj(node_edit(1, level=3), "level"),
    "import-nodes-string": _import_obj(good_tree(nodes="oops"), "nodes"),
    "import-no-root": _import_obj(good_tree(nodes=good_tree()["nodes"][1:]), "root"),
    "import-deep-json": _deep,
    "import-json-string": _import_obj("hello", "a JSON string"),
    "import-not-json": _import("{oops"),
    "import-empty-file": _import(b""),
    "import-seconds-nan-key": _import_obj({"nan": "x", "1": "y"}, "finite seconds"),
    "import-seconds-object-caption": _import_obj({"0": {"t": 1}}, "captions must be strings"),
    "import-longvideor1-bad-span": _import_obj({"captions": [[{"caption": "x", "frame_time": ["a", "b"]}]]},
                                               "frame_time"),
    "import-missing-file": _missing,
    "import-dangling-link": _dangling,
    "import-link-loop": _loop,
    "import-directory": _dir_as_file,
    # stores that are not videonav stores: refused untouched
    "store-foreign-sqlite": _into(foreign_db, "not a videonav store"),
    "store-own-nodes-table": _into(_db_with_nodes, "not a videonav store"),
    "store-other-application": _into(_other_app, "another application"),
    "store-text-file": _into(_text_file, "not an SQLite file"),
    "store-is-directory": _into(_directory, "is a directory"),
    "store-newer-schema": _into(_newer, "newer than this videonav"),
    "store-damaged": _into(_damaged, "damaged"),
    "show-damaged-store": lambda tmp, _s: (["tree", "show", "vid", "--store", str(_damaged(tmp))],
                                           tmp / "damaged.sqlite", "nothing was written"),
    "chapters-damaged-store": lambda tmp, _s: (["chapters", "vid", "--store", str(_damaged(tmp)), *FAST],
                                               tmp / "damaged.sqlite", "damaged"),
    "index-into-foreign-store": lambda tmp, _s: (["index", str(faststart_mp4(tmp / "v.mp4", seconds=3)), "--store",
                                                  str(foreign_db(tmp)), "--no-progress"], tmp / "other.sqlite",
                                                 "not a videonav store"),
    # ask: refused before any model loads
    "ask-nine-options": _ask("which?", options=[f"option {i}" for i in range(9)]),
    "ask-one-option": _ask("which?", options=["only"]),
    "ask-duplicate-options": _ask("which?", options=["a cat", "A  cat", "a dog"]),
    "ask-empty-question": _ask("  ", options=["a", "b"]),
    # chapters flags and lookups
    "chapters-negative-level": _chapters("--level", "-1", expect="--level"),
    "chapters-negative-min-seconds": _chapters("--min-seconds", "-5", expect="--min-seconds"),
    "chapters-deep-json": _deep_chapters,
    "chapters-unknown-id-no-store": _chapters_unknown_id,
    # tree show never indexes (nor creates a store)
    "show-unindexed-no-store": _show_unindexed,
    "show-unindexed-video": _show_unindexed_in_store,
    # bad videos
    "index-missing-video": _index(lambda t: t / "absent.mp4", "no such file"),
    "index-empty-video": _index(lambda t: write(t / "empty.mp4", b""), "empty"),
    "index-random-bytes": _index(_random_bytes, "cannot be opened as a video"),
}

ASK_WORDS = {"ask-nine-options": "at most 8", "ask-one-option": "only one option",
             "ask-duplicate-options": "the same", "ask-empty-question": "question is empty",
             "import-not-json": "not valid JSON", "import-empty-file": "not valid JSON"}
FIX_WORDS = ("pass", "run", "fix", "give", "use", "check", "point", "drop", "add", "save", "re-export",
             "download", "copy", "upgrade", "recover", "split", "regenerate", "start a new")


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_line(name: str, tmp_path: Path, good_store: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv, store, expect = CASES[name](tmp_path, good_store)
    before = snapshot(store)
    capsys.readouterr()
    rc, out, err = run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc in (1, 2), (rc, out, err)
    assert "Traceback" not in err and len(lines) == 1, err
    msg = lines[0]
    assert msg.startswith("videonav ") and "[Errno" not in msg, msg
    words = expect or ASK_WORDS.get(name, "")
    assert words.lower() in msg.lower(), msg
    assert any(w in msg.lower() for w in FIX_WORDS), f"no fix named: {msg}"
    assert snapshot(store) == before, "the store changed"
    if before is None:
        assert not store.exists(), "a store was created"

