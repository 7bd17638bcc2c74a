"""Video ranking, within-video BM25 statistics and the float16 library matrix (issue 16, round 2)."""

from __future__ import annotations

import json

import numpy as np
import test_search
from test_search import CountingEmbedder, make_store

from videonav.agent.cli.dispatch import main as cli
from videonav.memory.builders import skeleton
from videonav.memory.store import Store
from videonav.tools import search as search_mod
from videonav.tools import search_local
from videonav.tools.search import Searcher, _Matrix

store = test_search.store  # the same store fixture as tests/test_search.py


def _video(store: Store, key: str, vid: str, caps: list[str]) -> None:
    spans = [(5.0 * i, 5.0 * (i + 1)) for i in range(len(caps))]
    tree, leaves = skeleton(vid, spans, 2, spans[-1][1], {})
    for lid, cap in zip(leaves, caps, strict=True):
        tree.replace(tree.node(lid).model_copy(update={"caption": cap}))
    store.save_tree(key, tree)


def test_within_video_idf_ignores_the_word_every_leaf_has(tmp_path):
    """'boy' is rare in the library (one video) but says nothing inside that video; 'kite' does.
    Library-wide row BM25 ranks the leaf repeating 'boy' first; the video's own statistics do not."""
    s = Store(tmp_path / "w.sqlite")
    _video(s, "boy-key", "boy", ["the boy runs, the boy laughs, the boy jumps and the boy waves",
                                 "a boy holds a red kite", "the boy and the boy's boy friend boy talk",
                                 "a boy eats lunch"])
    for i in range(6):
        _video(s, f"o{i}", f"other{i}", [f"a kite shop number {i}", "a kite over the sea", "rain", "kite kite"])
    sr = Searcher(s._db)
    hits = sr.search("the boy with the kite", trees=["boy-key"], top=1, level="leaf", mode="lexical")
    assert hits and "kite" in hits[0].text
    assert [h.node_id for h in sr.search("zzqqxx", trees=["boy-key"], mode="lexical")] == []
    s.close()


def test_local_bm25_cache_follows_rewrites(tmp_path):
    s = Store(tmp_path / "c.sqlite")
    _video(s, "k", "v", ["a cat sleeps", "a dog barks"])
    sr = Searcher(s._db)
    assert "dog" in sr.search("dog", trees=["k"], top=1, mode="lexical")[0].text
    _video(s, "k", "v", ["a cat sleeps", "a parrot sings"])  # same key rewritten: new rows, new stats
    assert sr.search("dog", trees=["k"], mode="lexical") == []
    assert "parrot" in sr.search("parrot", trees=["k"], top=1, mode="lexical")[0].text
    s.close()


def test_tokenize_matches_the_index_stems():
    assert search_local.tokenize(["Running kites", ""]) == [["run", "kite"], []]
    assert search_local.query_terms('where is "NEAR(x* AND kites)"') == ["near", "x", "kite"]


def test_videos_one_hit_per_video_best_first(store):
    s, keys = store
    sr = Searcher(s._db, CountingEmbedder())
    for mode in ("hybrid", "dense", "lexical"):
        hits = sr.videos("walrus swims in the pool", top=5, mode=mode)
        assert [h.tree_key for h in hits][0] == keys["zoo"], mode
        assert len({h.tree_key for h in hits}) == len(hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert sr.videos("zzqqxx", mode="lexical") == []
    for q in ["", "   ", '"', "*", "NEAR(", "x" * 100_000, "AND OR NOT"]:
        assert isinstance(sr.videos(q), list)


def test_videos_hybrid_needs_both_signals(store):
    """A video both retrievers like beats one only the dense side likes (z-fusion, not a max)."""
    s, keys = store
    sr = Searcher(s._db, CountingEmbedder())
    # 'sofa' is only a dense match (synonym of couch, in lec); 'walrus' is in both videos' text,
    # the zoo one swims: hybrid for 'walrus swims' must be zoo in every mode that sees words
    assert sr.videos("sofa", top=1, mode="dense")[0].tree_key == keys["lec"]
    assert sr.videos("sofa", mode="lexical") == []
    assert sr.videos("walrus swims", top=1, mode="hybrid")[0].tree_key == keys["zoo"]


def test_cli_by_video(tmp_path, capsys):
    search_mod._MEMORY.clear()
    s, keys = make_store(tmp_path / "c.sqlite")
    s.close()
    base = ["search", "walrus", "--store", str(tmp_path / "c.sqlite"), "--set", "embedder.model=hashing"]
    assert cli([*base, "--by", "video", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == len({h["video"] for h in hits}) == 2
    assert cli([*base[:1], "zzqqxx", *base[2:], "--by", "video", "--json", "--mode", "lexical"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_half_precision_matrix_ranks_like_float32(tmp_path):
    rng = np.random.default_rng(0)
    n = search_mod.HALF_ROWS + 10
    mat = rng.standard_normal((n, 32)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    m = _Matrix(np.arange(n), mat, np.zeros(n, np.int32), ["t"], np.array(["1"] * n), np.zeros(n, np.int8),
                np.ones(n, bool))
    assert m.mat.dtype == np.float16
    for _ in range(5):
        q = rng.standard_normal(32).astype(np.float32)
        q /= np.linalg.norm(q)
        exact, got = mat @ q, m.scores(q)
        assert got.dtype == np.float32 and np.abs(got - exact).max() < 5e-3
        assert set(np.argsort(-got)[:10]) == set(np.argsort(-exact)[:10])
    folder = tmp_path / "cache" / "emb" / "fp2"
    stale = tmp_path / "cache" / "emb" / "fp1"
    stale.mkdir(parents=True)
    (stale / "mat.npy").write_bytes(b"old float32 cache")
    m.save(folder)
    assert not stale.exists()  # an older fingerprint's cache is removed, not left to fill the disk
    back = _Matrix.load(folder)
    assert back is not None and back.mat.dtype == np.float16
    assert np.array_equal(back.scores(q), m.scores(q))
    (folder / "mat16.npy").unlink()
    assert _Matrix.load(folder) is None  # a cache without the float16 matrix is rebuilt, not misread


def test_small_matrix_stays_float32():
    mat = np.eye(4, dtype=np.float32)
    m = _Matrix(np.arange(4), mat, np.zeros(4, np.int32), ["t"], np.array(["1"] * 4), np.zeros(4, np.int8),
                np.ones(4, bool))
    assert m.mat.dtype == np.float32 and np.array_equal(m.scores(mat[2]), mat[2])


def test_grow_widens_the_top_leaf_only_over_adjacent_leaves_among_the_best(tmp_path):
    """The runner-up leaf right after the top one joins its span; a runner-up elsewhere in the
    video does not, and growing never changes which nodes rank or in what order."""
    s = Store(tmp_path / "g.sqlite")
    _video(s, "near", "v1", ["a cat sleeps", "a red kite rises", "the kite string snaps", "a dog barks"])
    _video(s, "far", "v2", ["the kite string snaps", "a cat sleeps", "a dog barks", "a red kite rises"])
    sr = Searcher(s._db, CountingEmbedder())
    for mode in ("lexical", "hybrid"):
        plain = sr.search("kite string", trees=["near"], top=3, level="leaf", mode=mode)
        grown = sr.search("kite string", trees=["near"], top=3, level="leaf", mode=mode, grow=2)
        assert [h.node_id for h in grown] == [h.node_id for h in plain]
        assert (plain[0].start, plain[0].end) == (10.0, 15.0), mode
        assert (grown[0].start, grown[0].end) == (5.0, 15.0), mode  # the 'red kite' leaf before it
        far = sr.search("kite string", trees=["far"], top=1, level="leaf", mode=mode, grow=2)[0]
        assert (far.start, far.end) == (0.0, 5.0), mode  # its runner-up (15-20 s) does not touch it
    one = sr.search("kite string", trees=["near"], top=1, level="leaf", mode="lexical", grow=1)[0]
    assert (one.start, one.end) == (10.0, 15.0)  # grow=1: only the hit itself
    assert sr.search("zzqqxx", trees=["near"], mode="lexical", grow=3) == []
    s.close()
