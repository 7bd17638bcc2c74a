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

from videonav.agent.cli import main
from videonav.memory.store import Store

FAST = ["--set", "embedder.model=hashing", "--set", "planner.backend=none"]


def good_tree(**over: object) -> dict:
    """A small valid videonav tree: root [0, 20] with children [0, 10] and [10, 20]."""
    d = {"schema": "videonav.tree", "version": 1, "video_id": "vid", "duration": 20.0, "meta": {},
         "nodes": [{"id": "root", "start": 0, "end": 20, "level": 0, "caption": "all"},
                   {"id": "1", "start": 0, "end": 10, "level": 1, "caption": "first"},
                   {"id": "2", "start": 10, "end": 20, "level": 1, "caption": "second"}]}
    d.update(over)
    return d


def node_edit(i: int, **over: object) -> dict:
    d = good_tree()
    d["nodes"][i].update(over)
    return d


def write(p: Path, content: str | bytes) -> Path:
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def snapshot(p: Path) -> bytes | list[str] | None:
    if p.is_dir():
        return sorted(x.name for x in p.iterdir())
    return p.read_bytes() if p.exists() else None


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


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


def _foreign_db(tmp: Path) -> Path:
    p = tmp / "other.sqlite"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.execute("INSERT INTO customers VALUES (1, 'ada')")
    db.commit()
    db.close()
    return p


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
    "store-foreign-sqlite": _into(_foreign_db, "not a videonav store"),
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
    "index-into-foreign-store": lambda tmp, _s: (["index", str(_faststart_mp4(tmp / "v.mp4", seconds=3)), "--store",
                                                  str(_foreign_db(tmp)), "--no-progress"], tmp / "other.sqlite",
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


@pytest.fixture()
def good_store(tmp_path: Path) -> Path:
    """A store that already holds a good tree (so 'byte-identical' means something)."""
    from videonav.memory.formats import tree_from_dict

    p = tmp_path / "good.sqlite"
    with Store(p) as s:
        s.save_tree("good-key", tree_from_dict(good_tree(video_id="vid")))
    db = sqlite3.connect(p)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return p


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
    assert msg.startswith("videonav "), msg
    words = expect or ASK_WORDS.get(name, "")
    assert words.lower() in msg.lower(), msg
    assert any(w in msg.lower() for w in FIX_WORDS), f"no fix named: {msg}"
    assert snapshot(store) == before, "the store changed"
    if before is None:
        assert not store.exists(), "a store was created"


def test_a_bad_import_never_replaces_the_good_tree(tmp_path: Path, good_store: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The sweep's worst case: a NaN import became the newest tree of its video and broke `tree show`."""
    bad = write(tmp_path / "bad.json", json.dumps(good_tree()).replace('"duration": 20.0', '"duration": NaN'))
    assert run(["tree", "import", str(bad), "--store", str(good_store)], capsys)[0] == 1
    rc, out, _ = run(["tree", "show", "vid", "--store", str(good_store)], capsys)
    assert rc == 0 and "[2] 00:10-00:20 second" in out


def test_old_unmarked_store_is_migrated_and_keeps_its_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store written before stores were marked (no application_id, user_version 0) is accepted and marked."""
    from videonav.memory.store import _SCHEMA, APPLICATION_ID, SCHEMA_VERSION

    p = tmp_path / "old.sqlite"
    db = sqlite3.connect(p)
    db.executescript(_SCHEMA)
    db.execute("INSERT INTO kv VALUES ('k', '\"v\"', 0)")
    db.commit()
    db.close()
    with Store(p) as s:
        assert s.cache_get("k") == "v"
    db = sqlite3.connect(p)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    assert int.from_bytes(p.read_bytes()[68:72], "big") == APPLICATION_ID  # in the file header itself


def test_disk_full_mid_index_keeps_completed_nodes(tmp_path: Path, tiny_video, monkeypatch) -> None:
    """SQLITE_FULL part-way through captioning: a typed error saying work is kept; the file is sound."""
    from videonav.memory import store as store_mod
    from videonav.memory.store import StoreFull
    from videonav.tools.config import CaptionerConfig, EmbedderConfig
    from videonav.tools.video.index import index_video

    calls = {"n": 0}
    orig = store_mod.Store.put_node

    def put_node(self: Store, key: str, node) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # from now on the file may not grow: the next new page fails
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            self._db.execute(f"PRAGMA max_page_count={pages}")
        big = node.model_copy(update={"caption": (node.caption or "") + " " + "x" * 20_000})
        orig(self, key, big)

    monkeypatch.setattr(store_mod.Store, "put_node", put_node)
    p = tmp_path / "full.sqlite"
    with Store(p) as s, pytest.raises(StoreFull, match="disk full.*kept"):
        index_video(tiny_video.path, store=s, captioner=CaptionerConfig(ocr=False),
                    embedder=EmbedderConfig(model="hashing"), lazy=False)
    db = sqlite3.connect(p)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = db.execute("SELECT count(*) FROM nodes WHERE caption IS NOT NULL").fetchone()[0]
    db.close()
    assert kept == 2  # the two nodes stored before the limit


def test_broken_pipe_is_quiet(tmp_path: Path, good_store: Path, capsys, monkeypatch) -> None:
    """`videonav tree show ... | head -1`: the closed pipe ends the command without a traceback."""
    import builtins

    real_print = builtins.print

    def closed_pipe(*a, **k):
        if k.get("file") is None:
            raise BrokenPipeError(32, "Broken pipe")
        return real_print(*a, **k)

    monkeypatch.setattr(builtins, "print", closed_pipe)
    rc = main(["tree", "show", "good-key", "--store", str(good_store)])
    monkeypatch.undo()
    assert rc == 141 and "Traceback" not in capsys.readouterr().err


def test_run_records_are_never_overwritten(tmp_path: Path) -> None:
    from videonav.agent.runlog import new_run_id
    from videonav.memory.store import StoreError

    ids = {new_run_id("index") for _ in range(2000)}
    assert len(ids) == 2000
    with Store(tmp_path / "s.sqlite") as s:
        s.save_run("r1", "index", None, {}, {"n": 1}, [])
        with pytest.raises(StoreError):
            s.save_run("r1", "index", None, {}, {"n": 2}, [])
        assert s.get_run("r1")["result"] == {"n": 1}


def _faststart_mp4(path: Path, seconds: int = 20, fps: int = 5) -> Path:
    """A small MP4 with its index up front (as web downloads are), so a cut-off copy still opens."""
    import av
    import numpy as np

    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(seconds * fps):
            fr = np.full((96, 160, 3), (i * 7) % 255, np.uint8)
            fr[:, (i * 3) % 150:(i * 3) % 150 + 10] = 255
            for pkt in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def test_truncated_mp4_is_indexed_as_far_as_it_decodes(tmp_path: Path, capsys) -> None:
    """ffmpeg plays the first part of a cut-off download; videonav indexes that part and says what was cut."""
    full = _faststart_mp4(tmp_path / "full.mp4")
    cut = write(tmp_path / "cut.mp4", full.read_bytes()[: int(full.stat().st_size * 0.6)])
    store = tmp_path / "s.sqlite"
    rc, out, err = run(["index", str(cut), "--store", str(store), "--no-progress", "--set", "captioner.ocr=false",
                        "--set", "embedder.model=hashing"], capsys)
    warns = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 0 and "Traceback" not in err, err
    assert len(warns) == 1 and "warning:" in warns[0] and "only the first" in warns[0], err
    with Store(store) as s:
        tree = s.load_tree(s.tree_keys()[-1])
    assert 5.0 < tree.duration < 15.0 and tree.root.end == tree.duration


def test_big_subtitle_file_is_parsed_once(tmp_path: Path, tiny_video, monkeypatch) -> None:
    """A huge sidecar used to be parsed again on every open of its video (15-32 s for 200k cues)."""
    import shutil

    from videonav.tools.captioners.base import make_captioner
    from videonav.tools.config import CaptionerConfig, EmbedderConfig
    from videonav.tools.video import subtitles as subs
    from videonav.tools.video.index import open_source

    video = tmp_path / "v.mp4"
    shutil.copy(tiny_video.path, video)
    cues = "\n".join(f"{i + 1}\n00:00:{i // 100:02d},{(i % 100) * 10:03d} --> 00:00:{i // 100:02d},"
                     f"{(i % 100) * 10 + 5:03d}\ncue {i}\n" for i in range(1200))
    srt = write(tmp_path / "v.srt", cues)
    calls = {"n": 0}
    real = subs.read_subtitle_file

    def counting(p):
        calls["n"] += 1
        return real(p)

    monkeypatch.setattr(subs, "read_subtitle_file", counting)
    cap = make_captioner(CaptionerConfig(ocr=False))
    got = []
    with Store(tmp_path / "s.sqlite") as s:
        for _ in range(2):
            src = open_source(video, store=s, embedder=EmbedderConfig(model="hashing"), captioner_impl=cap)
            got.append([(c.start, c.end, c.text) for c in src.cues.cues])
            src.close()
    assert calls["n"] == 1 and got[0] == got[1] and len(got[0]) == 1200
    srt.write_text(cues.replace("cue 7\n", "cue seven\n"))  # an edited file is parsed again
    with Store(tmp_path / "s.sqlite") as s:
        open_source(video, store=s, embedder=EmbedderConfig(model="hashing"), captioner_impl=cap).close()
    assert calls["n"] == 2


def test_chapters_reports_a_store_error_before_loading_the_embedder(tmp_path: Path, monkeypatch, capsys) -> None:
    """The store error used to arrive after 19 s of loading MiniLM."""
    import videonav.tools.embed as embed

    def no_model(*_a, **_k):
        raise AssertionError("the embedder was loaded before the store was opened")

    monkeypatch.setattr(embed, "make_embedder", no_model)
    target = _foreign_db(tmp_path)
    rc, _, err = run(["chapters", "some-video", "--store", str(target)], capsys)
    assert rc == 1 and "not a videonav store" in err and "AssertionError" not in err, err
