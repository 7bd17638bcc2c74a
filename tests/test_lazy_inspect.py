"""Inspecting a part of a lazy video tree captions the leaves likeliest to hold the answer and shows them.

On an eagerly indexed tree the same inspect stays clip QA (one read over the part's span)."""

from __future__ import annotations

import pytest

from videonav.memory.config import TreeConfig
from videonav.memory.store import Store
from videonav.tools.config import EmbedderConfig, VideoConfig
from videonav.tools.video import source as source_mod
from videonav.tools.video.index import index_video, open_source

LAZY = TreeConfig(leaf_min_seconds=3, leaf_max_seconds=6, eager_levels=1)  # root, 1, 2 captioned; 4 leaves not
EMB = EmbedderConfig(model="hashing")
VID = VideoConfig(frames_per_leaf=3, frames_per_parent=4)


def _lazy(tmp_path, tiny_video, store: Store):
    index_video(tiny_video.path, store=store, tree=LAZY, video=VID, embedder=EMB, lazy=True,
                subtitles=tiny_video.srt)
    return open_source(tiny_video.path, store=store, tree=LAZY, video=VID, embedder=EMB, subtitles=tiny_video.srt)


def test_lazy_part_inspect_captions_the_leaf_its_speech_points_to(tmp_path, tiny_video, monkeypatch):
    monkeypatch.setattr(source_mod, "LAZY_LEAVES", 1)
    with Store(tmp_path / "s.sqlite") as store:
        src = _lazy(tmp_path, tiny_video, store)
        try:
            assert all(lf.caption is None for lf in src.tree.leaves())
            out = src.inspect("root", "What password does Charlie say?", limit=5)
            charlie = src.tree.leaves()[2]
            assert [(ln.start, ln.end) for ln in out.lines] == [(charlie.start, charlie.end)]
            assert out.reads == 1 and "pineapple" in out.lines[0].text and "CHARLIE" in out.lines[0].text
            assert src.cost.captions_built == 1 and src.cost.inspect_calls == 1
            assert [lf.caption is not None for lf in src.tree.leaves()] == [False, False, True, False]
        finally:
            src.close()


def test_lazy_part_inspect_follows_the_captioned_part_that_names_the_answer(tmp_path, tiny_video, monkeypatch):
    """No leaf's speech says 'green'; the caption of part 2 (read from its frames) does."""
    monkeypatch.setattr(source_mod, "LAZY_LEAVES", 2)
    with Store(tmp_path / "s.sqlite") as store:
        src = _lazy(tmp_path, tiny_video, store)
        try:
            assert "green" in (src.tree.node("2").caption or "") and "green" not in (src.tree.node("1").caption or "")
            out = src.inspect("root", "What number is on the green card?", limit=5)
            assert src.cost.captions_built == 2
            assert [lf.caption is not None for lf in src.tree.leaves()] == [False, False, True, True]
            assert "2468" in out.lines[0].text and out.reads == len(out.lines)
        finally:
            src.close()


@pytest.mark.parametrize("limit", [1, 2])
def test_lazy_part_inspect_shows_no_more_than_the_budget(tmp_path, tiny_video, limit):
    with Store(tmp_path / "s.sqlite") as store:
        src = _lazy(tmp_path, tiny_video, store)
        try:
            out = src.inspect("root", "What number is on the green card?", limit=limit)
            assert 1 <= len(out.lines) == out.reads <= limit and src.cost.captions_built == 4
            assert "2468" in out.lines[0].text if limit == 1 else "2468" in " ".join(ln.text for ln in out.lines)
        finally:
            src.close()


@pytest.mark.parametrize("narrow", [True, False])
def test_a_lazy_inspect_that_finds_nothing_named_costs_one_read(tmp_path, tiny_video, monkeypatch, narrow):
    """No card is purple: one read (the budget kept for another part), not three near-misses."""
    monkeypatch.setattr(source_mod, "LAZY_NARROW", narrow)
    with Store(tmp_path / "s.sqlite") as store:
        src = _lazy(tmp_path, tiny_video, store)
        try:
            hit = src.inspect("2", "What does Charlie say the password is?", limit=5)
            assert any("pineapple" in ln.text for ln in hit.lines)
            assert hit.reads == (1 if narrow else 2)  # only Charlie's caption names 'charlie' / 'password'
            miss = src.inspect("root", "What number is on the purple card?", limit=5)
            assert miss.reads == len(miss.lines) == (1 if narrow else 3)
        finally:
            src.close()


def test_eager_part_inspect_stays_clip_qa(tmp_path, tiny_video):
    with Store(tmp_path / "s.sqlite") as store:
        index_video(tiny_video.path, store=store, tree=LAZY, video=VID, embedder=EMB, lazy=False,
                    subtitles=tiny_video.srt)
        src = open_source(tiny_video.path, store=store, tree=LAZY, video=VID, embedder=EMB,
                          subtitles=tiny_video.srt)
        try:
            out = src.inspect("2", "What number is on the green card?", limit=5)
            assert not out.lines and out.reads == 1 and out.text and src.cost.captions_built == 0
        finally:
            src.close()
