"""Adjacent query-word pairs in the within-video lexical score (tools/search_local.py, PAIR_WEIGHT)."""

from __future__ import annotations

import json

import pytest
from test_search_ranking import _video

from videonav.agent.cli.dispatch import main as cli
from videonav.memory.store import Store
from videonav.tools import search as search_mod
from videonav.tools import search_local as local
from videonav.tools.search import Searcher

# Every clip says "white" (the sprite's ink) and "moves across ... slide"; only one says "white slide".
# The distractor is first and shortest, so a bag of words ranks it above the white slide's clip.
SLIDES = ["A white triangle moves across a pink slide.", "A small red circle moves across a white slide.",
          "A white square moves across a dark green slide.", "A white circle moves across a yellow slide."]
QUESTION = "What shape moved across the white slide?"


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    search_mod._MEMORY.clear()
    s = Store(tmp_path / "p.sqlite")
    _video(s, "slides", "v", SLIDES)
    yield s
    s.close()


def _top(s: Store) -> str:
    hits = Searcher(s._db).search(QUESTION, trees=["slides"], top=4, level="leaf", mode="lexical")
    assert len(hits) == 4
    return hits[0].text


def test_adjacent_pair_ranks_the_named_slide_first(store):
    assert _top(store) == SLIDES[1]


def test_without_the_pair_term_a_bag_of_words_prefers_the_ink_word(store, monkeypatch):
    monkeypatch.setattr(local, "PAIR_WEIGHT", 0.0)
    assert _top(store) == SLIDES[0]


def test_cli_search_in_a_video_uses_the_pairs(store, capsys):
    assert cli(["search", QUESTION, "--store", str(store.path), "--video", "slides", "--mode", "lexical",
                "--level", "leaf", "--top", "1", "--json"]) == 0
    assert [h["text"] for h in json.loads(capsys.readouterr().out)] == [SLIDES[1]]


def test_query_pairs_skip_stop_words_keep_order_and_expand_synonyms():
    assert local.query_pairs("What shape moved across the white slide?") == [
        ("shape", "move"), ("move", "across"), ("across", "white"), ("white", "slide")]
    assert local.query_pairs("the lady in a red hat") == [("woman", "red"), ("red", "hat")]
    assert local.query_pairs("the dog") == [] and local.query_pairs("") == []


def test_pairs_are_read_within_one_row_in_order(tmp_path):
    """Order matters: 'slide, white' is not the pair ('white', 'slide')."""
    search_mod._MEMORY.clear()
    s = Store(tmp_path / "o.sqlite")
    _video(s, "o", "v", ["a slide, white border", "the white slide", "a white hat", "a slide show"])
    d = local._docs(s._db, ["o"], None)
    got = {k[1]: set(c) for k, c in d.pairs.items() if k in d.leaves}
    with_pair = [nid for nid, ps in got.items() if ("white", "slide") in ps]
    assert len(with_pair) == 1
    assert d.tf[("o", with_pair[0])]["white"] == 1 and ("slide", "white") not in got[with_pair[0]]
    s.close()
