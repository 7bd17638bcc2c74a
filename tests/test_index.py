"""Video -> stored caption tree: eager, lazy (on demand), resumable after SIGKILL, nothing stored on errors.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from videonav.memory.config import TreeConfig
from videonav.memory.source import Inspection
from videonav.memory.store import Store
from videonav.memory.tree import Provenance
from videonav.tools.captioners.base import Caption, CaptionContext
from videonav.tools.config import CaptionerConfig, EmbedderConfig, VideoConfig
from videonav.tools.video.index import index_video, open_source
from videonav.tools.video.probe import NoVideoStream, SubtitleError, VideoDecodeError, VideoError, VideoNotFound

TREE = TreeConfig(leaf_min_seconds=3, leaf_max_seconds=6)  # one leaf per 5-s card: 4 leaves, 7 nodes
EMB = EmbedderConfig(model="hashing")
VID = VideoConfig(frames_per_leaf=3, frames_per_parent=4)


class FakeCaptioner:
    """Records the span of every describe call (to count captioning per node)."""

    name, model_id, prompt_version = "fake", "fake-1", "t1"

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.prompts: list[str] = []

    def describe(self, frames, timestamps, prompt, context=None) -> Caption:
        ctx = context or CaptionContext()
        self.spans.append(ctx.span)
        self.prompts.append(prompt)
        text = (f"clip {ctx.span[0]:.1f}-{ctx.span[1]:.1f} with {len(frames)} frames; "
                f"prev={ctx.previous_caption!r}")
        prov = Provenance(backend=self.name, model=self.model_id, prompt_version="t1")
        return Caption(text=text, provenance=prov)


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def test_eager_index_captions_and_stores_every_node(tmp_path, tiny_video):
    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(tiny_video.path, store=store, tree=TREE, video=VID, embedder=EMB)
        tree = res.tree
        tree.validate()
        assert len(tree) == 7 and len(tree.leaves()) == 4 and res.stats.uncaptioned == 0
        for leaf, (title, body, _, colour) in zip(tree.leaves(), tiny_video.cards, strict=True):
            assert title in leaf.caption and body in leaf.caption and f"mostly {colour}" in leaf.caption
        charlie = tree.leaves()[2]
        assert [ln.text for ln in charlie.lines] == ["Charlie says the password is pineapple."]
        assert "pineapple" in charlie.caption and "pineapple" in (charlie.transcript or "")
        assert "ALPHA" in tree.root.caption and "DELTA" in tree.root.caption  # parents read their own frames
        assert '"ALPHA | 1234" on red' in tree.root.caption and '"BRAVO | 5678" on blue' in tree.root.caption
        st = res.stats
        assert st.frames_decoded > 0 and st.decode_seconds > 0 and st.ocr_seconds > 0
        assert st.captioned_now == 7
        stored = store.load_tree(res.tree_key)
        assert {n.id: n.caption for n in stored.nodes()} == {n.id: n.caption for n in tree.nodes()}
        again = index_video(tiny_video.path, store=store, tree=TREE, video=VID, embedder=EMB)
        assert again.tree_key == res.tree_key and again.stats.resumed and again.stats.captioned_now == 0


def test_contextual_prompts_and_summary_parents(tmp_path, tiny_video):
    fake = FakeCaptioner()
    vid = VideoConfig(frames_per_leaf=2, frames_per_parent=0)
    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(tiny_video.path, store=store, tree=TREE, video=vid, embedder=EMB,
                          captioner_impl=fake, captioner=CaptionerConfig(batch_size=1))
        assert len(fake.spans) == 4  # leaves only: parents summarise their children, no captioner call
        again = FakeCaptioner()
        other = TreeConfig(leaf_min_seconds=3, leaf_max_seconds=6, summary_sentences=1)
        index_video(tiny_video.path, store=store, tree=other, video=vid, embedder=EMB, captioner_impl=again,
                    captioner=CaptionerConfig(batch_size=3))  # parents' batch right after the leaves' last
        assert len(again.spans) == 4
    second = res.tree.leaves()[1]
    assert "prev='clip 0.0-5.0" in second.caption  # previous sibling's caption was in the context
    assert res.tree.root.caption.endswith("mostly red, blue and green.") or "Scene:" in res.tree.root.caption
    assert res.tree.root.provenance.backend == "fake+extractive"


def test_lazy_mode_captions_on_demand_and_counts_cost(tmp_path, tiny_video):
    fake = FakeCaptioner()
    tree_cfg = TreeConfig(leaf_min_seconds=3, leaf_max_seconds=6, eager_levels=1)
    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(tiny_video.path, store=store, tree=tree_cfg, video=VID, embedder=EMB, lazy=True,
                          captioner_impl=fake)
        assert res.stats.uncaptioned == 4 and len(fake.spans) == 3
        assert store.captioned_ids(res.tree_key) == {"root", "1", "2"}
        src = open_source(tiny_video.path, store=store, tree=tree_cfg, video=VID, embedder=EMB,
                          captioner_impl=fake)
        try:
            leaf = src.tree.leaves()[1]
            assert leaf.caption is None
            got = src.ensure([leaf.id, "1"])
            assert got[0].caption and got[1].caption and len(fake.spans) == 4
            assert src.cost.captions_built == 1 and src.cost.caption_seconds >= 0
            ctx_parent = "clip 0.0-10.0"
            assert got[0].caption.startswith("clip 5.0-10.0") and ctx_parent in src.tree.node("1").caption
            src.ensure([leaf.id])
            assert len(fake.spans) == 4 and src.cost.captions_built == 1  # cached in the tree and the store
        finally:
            src.close()
        assert leaf.id in store.captioned_ids(res.tree_key)


def test_inspect_runs_clip_qa_on_real_frames_and_caches(tmp_path, tiny_video):
    with Store(tmp_path / "s.sqlite") as store:
        src = open_source(tiny_video.path, store=store, tree=TREE, video=VID, embedder=EMB)
        try:
            leaf = src.tree.leaves()[2]
            out = src.inspect(leaf.id, "What number is on the green card?")
            assert isinstance(out, Inspection) and out.reads == 1 and not out.lines
            assert "2468" in out.text and "green" in out.text
            assert src.inspect(leaf.id, "What number is on the green card?") == out
            assert src.cost.inspect_calls == 2 and src.cost.inspect_seconds > 0
        finally:
            src.close()


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "corrupt", "audio", "subtitles"])
def test_bad_inputs_raise_and_leave_the_store_untouched(tmp_path, tiny_video, kind):
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        index_video(tiny_video.path, store=store, tree=TREE, video=VID, embedder=EMB,
                    captioner_impl=FakeCaptioner())
    before = dump(db)
    data = tiny_video.path.read_bytes()
    bad = tmp_path / "bad" / "v.mp4"
    bad.parent.mkdir()
    expected: type[VideoError] = VideoDecodeError
    if kind == "missing":
        expected = VideoNotFound
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "corrupt":
        bad.write_bytes(bytes(range(256)) * 200)
    elif kind == "audio":
        import wave

        bad = bad.with_suffix(".wav")
        with wave.open(str(bad), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 8000)
        expected = NoVideoStream
    else:
        shutil.copy(tiny_video.path, bad)
        bad.with_suffix(".srt").write_bytes(b"1\n00:00:01,000 --> soon\nbroken\n\n")
        expected = SubtitleError
    with Store(db) as store, pytest.raises(expected) as ei:
        index_video(bad, store=store, tree=TREE, video=VID, embedder=EMB, captioner_impl=FakeCaptioner())
    assert str(bad.with_suffix(".srt") if kind == "subtitles" else bad) in str(ei.value)
    assert dump(db) == before


KILL_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from videonav.memory.config import TreeConfig
    from videonav.memory.store import Store
    from videonav.memory.tree import Provenance
    from videonav.tools.captioners.base import Caption
    from videonav.tools.config import CaptionerConfig, EmbedderConfig, VideoConfig
    from videonav.tools.video.index import index_video

    video, store, log = sys.argv[1:4]

    class Slow:
        name, model_id, prompt_version = "slow", "slow-1", "t1"

        def describe(self, frames, timestamps, prompt, context=None):
            with open(log, "a") as f:
                f.write(json.dumps(list(context.span)) + "\\n")
            time.sleep(0.25)
            return Caption(text=f"clip {context.span}", provenance=Provenance(backend="slow", model="slow-1"))

    index_video(video, store=Store(store), captioner_impl=Slow(), tree=TreeConfig(leaf_min_seconds=1,
                leaf_max_seconds=2), video=VideoConfig(frames_per_leaf=2, frames_per_parent=2),
                captioner=CaptionerConfig(batch_size=1), embedder=EmbedderConfig(model="hashing"))
""")


def test_sigkill_midway_then_rerun_finishes_without_recaptioning(tmp_path, tiny_video):
    script, db, log = tmp_path / "run.py", tmp_path / "s.sqlite", tmp_path / "calls.log"
    script.write_text(KILL_SCRIPT)
    cmd = [sys.executable, str(script), str(tiny_video.path), str(db), str(log)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 5):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = [tuple(json.loads(x)) for x in log.read_text().splitlines()]
    with Store(db) as store:
        (key,) = store.tree_keys()
        tree = store.load_tree(key)
        stored_before = store.captioned_ids(key)
    assert 3 <= len(stored_before) < len(tree)  # really killed midway
    log.write_text("")
    subprocess.run(cmd, check=True, timeout=120)
    second = [tuple(json.loads(x)) for x in log.read_text().splitlines()]
    with Store(db) as store:
        final = store.load_tree(key)
    by_span = {(round(n.start, 3), round(n.end, 3)): n.id for n in final.nodes()}
    ids2 = [by_span[(round(a, 3), round(b, 3))] for a, b in second]
    assert all(n.caption for n in final.nodes())
    assert not set(ids2) & stored_before  # nothing stored was captioned again
    assert len(ids2) == len(set(ids2)) == len(final) - len(stored_before)
    assert len(first) - len(stored_before) <= 1  # at most the one caption in flight was lost


def test_cli_index_json_and_run_config(tmp_path, tiny_video, capsys):
    from videonav.agent.cli import main

    db = tmp_path / "store" / "s.sqlite"
    rc = main(["index", str(tiny_video.path), "--store", str(db), "--json", "--set", "embedder.model=hashing",
               "--set", "tree.leaf_min_seconds=3", "--set", "tree.leaf_max_seconds=6",
               "--set", "tree.eager_levels=1",
               "--lazy"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["nodes"] == 7 and out["lazy"] is True and out["uncaptioned"] == 4
    assert Path(out["config"]).is_file() and "leaf_min_seconds: 3.0" in Path(out["config"]).read_text()
    with Store(db) as store:
        assert store.get_run(out["run_id"])["config"]["tree"]["lazy"] is True
    rc = main(["index", str(tmp_path / "nope.mp4"), "--store", str(tmp_path / "other.sqlite")])
    err = capsys.readouterr().err
    assert rc == 1 and "no such file" in err and not (tmp_path / "other.sqlite").exists()


def test_open_source_with_a_run_config_builds_the_top_levels(tmp_path, tiny_video):
    """The planner's call: ``open_source(video, cfg, store, lazy=True)``."""
    from videonav.agent.config import load_config

    cfg = load_config(None, ["embedder.model=hashing", "tree.leaf_min_seconds=3", "tree.leaf_max_seconds=6",
                             "tree.eager_levels=1", f"store.path={tmp_path / 'own.sqlite'}"])
    src = open_source(tiny_video.path, cfg, None, lazy=True)
    try:
        assert src.owns_store and src.tree_key == src.key
        assert {n.id for n in src.tree.nodes() if n.caption} == {"root", "1", "2"}
        assert "CHARLIE" in src.ensure([src.tree.leaves()[2].id])[0].caption
    finally:
        src.close()


@pytest.mark.slow
def test_sample_video_every_shown_fact_is_in_an_overlapping_leaf(tmp_path):
    """End to end on the demo generator's output: every card's text is read into the right leaves."""
    gen = Path(__file__).resolve().parents[1] / "demos" / "make_sample_video.py"
    subprocess.run([sys.executable, str(gen), "--minutes", "4", "--out", str(tmp_path)], check=True,
                   stdout=subprocess.DEVNULL)
    events = json.loads((tmp_path / "sample_4min.events.json").read_text())["events"]
    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(tmp_path / "sample_4min.mp4", store=store, embedder=EMB)
    leaves = res.tree.leaves()
    for ev in events:
        text = " ".join(ln.caption or "" for ln in leaves if ln.start < ev["end"] and ln.end > ev["start"])
        assert ev["text"] in text, (ev, text)
    assert res.stats.uncaptioned == 0
