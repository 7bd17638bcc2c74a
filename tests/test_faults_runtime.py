"""Faults in the middle of real work (issue 13): disk full mid-index, a closed pipe, run ids, truncated
videos, huge subtitles, old stores, and the order in which the CLI checks things."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from faultfix import faststart_mp4, foreign_db, good_tree, make_good_store, run, write

from videonav.agent.cli import main
from videonav.memory.store import Store


@pytest.fixture()
def good_store(tmp_path: Path) -> Path:
    return make_good_store(tmp_path)


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


def test_truncated_mp4_is_indexed_as_far_as_it_decodes(tmp_path: Path, capsys) -> None:
    """ffmpeg plays the first part of a cut-off download; videonav indexes that part and says what was cut."""
    full = faststart_mp4(tmp_path / "full.mp4")
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
    target = foreign_db(tmp_path)
    rc, _, err = run(["chapters", "some-video", "--store", str(target)], capsys)
    assert rc == 1 and "not a videonav store" in err and "AssertionError" not in err, err
