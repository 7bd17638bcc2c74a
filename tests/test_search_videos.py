"""Whole-video ranking: the video as one document (issue 16, round 3)."""

from __future__ import annotations

import numpy as np
from test_search_ranking import _video

from videonav.memory.store import Store
from videonav.tools import search_videos
from videonav.tools.search import Searcher


def _library(path) -> Store:
    s = Store(path)
    # 'spread' says dog, ball and sofa, each in a leaf of its own; 'pair' says two of them in one caption
    _video(s, "spread", "spread", ["a dog runs on the grass", "a red ball rolls away", "a blue sofa by a window",
                                   "the lights go out"])
    _video(s, "pair", "pair", ["a dog and a ball", "a kitchen table", "rain on a window", "a car drives past"])
    for i in range(4):
        _video(s, f"o{i}", f"other{i}", [f"a bus number {i}", "a tree in the wind", "a bridge", "people walk"])
    return s


def test_video_document_beats_one_caption_with_more_words(tmp_path):
    """Row BM25 ranks 'pair' first (its one caption holds two of the words); the whole-video
    document sees that 'spread' says all three."""
    s = _library(tmp_path / "v.sqlite")
    sr = Searcher(s._db)
    hits = sr.videos("the dog with the ball near the sofa", top=3, mode="lexical")
    assert [h.tree_key for h in hits][:2] == ["spread", "pair"]
    assert all(h.text for h in hits)  # every hit shows a caption, also one found only through its document
    s.close()


def test_video_bm25_counts_videos_and_follows_rewrites(tmp_path):
    s = _library(tmp_path / "b.sqlite")
    trees = ["spread", "pair", "o0", "missing"]
    got = search_videos.video_bm25(s._db, "sofa", trees)
    assert got[0] > 0 and np.all(got[1:] == 0)
    # 'window' is in two videos, 'sofa' in one: the rarer word weighs more for the same count
    both = search_videos.video_bm25(s._db, "window", trees)
    assert both[0] > 0 and both[1] > 0 and both[0] < got[0]
    assert search_videos.video_bm25(s._db, "zzqqxx", trees).tolist() == [0.0] * 4
    assert search_videos.video_bm25(s._db, "", trees).tolist() == [0.0] * 4
    _video(s, "pair", "pair", ["a sofa", "a sofa again", "rain", "a car"])  # rewritten: new statistics
    again = search_videos.video_bm25(s._db, "sofa", trees)
    assert again[1] > 0
    assert search_videos.video_bm25(s._db, "sofa", trees, fields=("line",)).tolist() == [0.0] * 4
    s.close()


def test_question_words_are_normalised_to_caption_words(tmp_path):
    """Captions say 'woman', questions 'lady'; 'at the end' places the question in the video and
    is no caption's content: neither may pick the caption that happens to say it."""
    s = Store(tmp_path / "n.sqlite")
    _video(s, "w", "w", ["a woman waves at the camera", "a woman sits on a bench", "a tree", "a car"])
    _video(s, "sign", "sign", ["a shop sign reads lady luck", "an empty street", "a tree", "a car"])
    _video(s, "h", "h", ["a dog sleeps on the rug", "a cat at the end of the hallway", "a lamp", "a door"])
    sr = Searcher(s._db)
    assert sr.videos("what does the lady do", top=1, mode="lexical")[0].tree_key == "w"
    hit = sr.search("what does the dog do at the end", trees=["h"], top=1, level="leaf", mode="lexical")[0]
    assert "dog" in hit.text
    assert sr.search("the end", trees=["h"], top=1, mode="lexical")[0].text.endswith("hallway")  # nothing else left
    s.close()


def test_bulk_tokenize_leaves_the_shared_table_small():
    """Tokenising a library's rows through the shared table left its FTS5 index bloated with
    deleted entries, and every later one-query tokenize took ~1 s; a bulk job has its own table."""
    from videonav.tools import search_local

    size = search_local._TOK.execute("SELECT count(*) FROM tok_data").fetchone()[0]
    got = search_local.tokenize([f"a dog number {i} runs" for i in range(search_local.BULK + 1)])
    assert got[7] == ["a", "dog", "number", "7", "run"]
    assert search_local._TOK.execute("SELECT count(*) FROM tok_data").fetchone()[0] <= size + 2
    assert search_local.tokenize(["Dogs ran"]) == [["dog", "ran"]]
