"""``videonav search`` and hybrid retrieval on tiny stores (no model weights: controlled embedders)."""

from __future__ import annotations

import json
import sqlite3
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videonav.agent.cli.dispatch import main as cli
from videonav.memory import text_index as ti
from videonav.memory.builders import skeleton
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree, TimedText
from videonav.tools import search as search_mod
from videonav.tools.search import Searcher, fuse, resolve_trees

CLIPS = {
    "lec": ["a teacher writes equations on a whiteboard", "the slide reads COPPER WALRUS in large letters",
            "students pack their bags and leave the hall", "a dog sleeps on the couch near the window"],
    "zoo": ["a walrus swims in a cold pool", "children feed goats at a fence",
            "a keeper explains penguin diets", "the gift shop sells plush bears"],
}


class CountingEmbedder:
    """Bag-of-words vectors over a tiny vocabulary, with synonyms mapped together (what a sentence
    embedder does and BM25 cannot: 'sofa' finds 'couch'); counts every text it embeds."""

    name = "counting"
    dim = 16
    SYN = {"sofa": "couch", "hound": "dog", "puppy": "dog", "sea": "pool", "lorry": "truck"}

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                w = self.SYN.get(w, w)
                if w in {"the", "a", "on", "in", "at", "of", "and", "near", "their"}:
                    continue
                dim = {"couch": 0, "dog": 1}.get(w, zlib.crc32(w.encode()) % self.dim)
                out[i, dim] += 1
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out


def make_store(path, with_lines: bool = True) -> tuple[Store, dict[str, str]]:
    store = Store(path)
    keys = {}
    for vid, caps in CLIPS.items():
        spans = [(10.0 * i, 10.0 * (i + 1)) for i in range(len(caps))]
        tree, leaves = skeleton(vid, spans, 2, spans[-1][1], {})
        for lid, cap in zip(leaves, caps, strict=True):
            n = tree.node(lid)
            line = TimedText(start=n.start, end=n.start + 2, text=f"narrator: {vid} part {lid}")
            lines = (line,) if with_lines else ()
            tree.replace(n.model_copy(update={"caption": cap, "lines": lines}))
        for n in tree.nodes():
            if n.caption is None:
                tree.replace(n.model_copy(update={"caption": f"overview of {vid}"}))
        keys[vid] = f"{vid}-key"
        store.save_tree(keys[vid], tree)
    return store, keys


@pytest.fixture
def store(tmp_path):
    search_mod._MEMORY.clear()
    s, keys = make_store(tmp_path / "s.sqlite")
    yield s, keys
    s.close()


def test_lexical_finds_rare_on_screen_word(store):
    s, keys = store
    hits = Searcher.for_store(s, None).search("copper", mode="lexical")
    assert [(h.tree_key, h.node_id) for h in hits] == [(keys["lec"], hits[0].node_id)]
    assert "COPPER" in hits[0].text and hits[0].field == "caption"


def test_dense_finds_synonym_lexical_cannot(store):
    s, keys = store
    sr = Searcher.for_store(s, CountingEmbedder())
    assert sr.search("sofa hound", mode="lexical") == []
    top = sr.search("sofa hound", mode="dense", top=1)[0]
    assert "couch" in top.text and top.tree_key == keys["lec"]
    assert "couch" in sr.search("sofa hound", mode="hybrid", top=1)[0].text


def test_hybrid_fuses_both_rankings(store):
    s, keys = store
    sr = Searcher.for_store(s, CountingEmbedder())
    q = "walrus sea"  # both walrus captions match the word; only the zoo one means 'sea' (pool)
    lex, dense, hyb = (sr.search(q, mode=m, top=4) for m in ("lexical", "dense", "hybrid"))
    node = lambda h: (h.tree_key, h.node_id)  # noqa: E731
    assert {node(h) for h in lex} != {node(h) for h in dense}
    assert node(hyb[0]) == node(lex[0]) == node(dense[0]) and "pool" in hyb[0].text
    assert node(hyb[1]) == node(lex[1])  # second in BM25, beyond dense's top: fusion keeps it high
    assert [h.score for h in hyb] == sorted((h.score for h in hyb), reverse=True)


def test_rrf_prefers_agreement():
    a, b, c = ("t", "a"), ("t", "b"), ("t", "c")
    score, best = fuse([[(a, 1, 5.0), (b, 2, 4.0), (b, 7, 3.9)], [(c, 3, 0.9), (b, 4, 0.8)]])
    assert max(score, key=score.get) == b and best[b] == 2  # 2nd in both beats 1st in one
    assert score[a] == score[c] == pytest.approx(1 / 61)
    only, _ = fuse([[(a, 1, 5.0), (b, 2, 4.0)]])
    assert only == {a: 5.0, b: 4.0}  # one retriever: its own scores


def test_filters_video_level_fields(store):
    s, keys = store
    sr = Searcher.for_store(s, CountingEmbedder())
    only_zoo = sr.search("walrus", trees=[keys["zoo"]])
    assert only_zoo and {h.tree_key for h in only_zoo} == {keys["zoo"]}
    assert all("." in h.node_id for h in sr.search("walrus overview", level="leaf", top=20))
    parts = sr.search("overview", level="part", top=20)
    assert parts and all(h.text.startswith("overview") for h in parts)
    narr = sr.search("narrator", mode="lexical", top=50)
    assert len(narr) == 8 and {h.field for h in narr} == {"line"}
    assert sr.search("narrator", mode="lexical", fields=("caption",)) == []  # original-only baseline
    assert resolve_trees(s._db, "zoo") == [keys["zoo"]] and resolve_trees(s._db, keys["lec"]) == [keys["lec"]]
    assert resolve_trees(s._db, "nope") == []


def test_vectors_stored_once_not_per_query(tmp_path):
    search_mod._MEMORY.clear()
    s, _ = make_store(tmp_path / "v.sqlite")
    emb = CountingEmbedder()
    sr = Searcher.for_store(s, emb)
    distinct = {t for (t,) in s._db.execute("SELECT DISTINCT text FROM text_fields")}
    for q in ["walrus", "dog couch", "equations", "walrus"]:
        sr.search(q, mode="dense")
    node_calls = [t for t in emb.calls if t in distinct]
    assert sorted(node_calls) == sorted(distinct)  # each node text embedded exactly once
    assert len(emb.calls) - len(node_calls) == 4  # plus one encode per query
    stored = s._db.execute("SELECT count(*) FROM text_vectors WHERE embedder=?", (sr.embedder_id,)).fetchone()[0]
    assert stored == len(distinct)
    s.close()
    search_mod._MEMORY.clear()  # a new process: vectors come from the store, nothing is re-embedded
    s2 = Store(tmp_path / "v.sqlite")
    emb2 = CountingEmbedder()
    Searcher.for_store(s2, emb2).search("walrus", mode="hybrid")
    assert emb2.calls == ["walrus"]
    s2.close()


def test_rewritten_node_reindexed_and_backfill(tmp_path):
    search_mod._MEMORY.clear()
    s, keys = make_store(tmp_path / "r.sqlite")
    tree = s.load_tree(keys["zoo"])
    n = tree.node(tree.leaves()[0].id)
    s.put_node(keys["zoo"], n.model_copy(update={"caption": "a narwhal surfaces"}))
    sr = Searcher.for_store(s, None)
    assert sr.search("walrus", mode="lexical", trees=[keys["zoo"]]) == []
    assert sr.search("narwhal", mode="lexical")[0].node_id == n.id
    s.close()
    db = sqlite3.connect(tmp_path / "r.sqlite")  # a store from before the index existed
    db.executescript("DROP TABLE text_fts; DROP TABLE text_fields; DROP TABLE text_index_meta;"
                     "DROP TRIGGER nodes_text_ai; DROP TRIGGER nodes_text_au; DROP TRIGGER nodes_text_ad;")
    db.close()
    s2 = Store(tmp_path / "r.sqlite")
    assert Searcher.for_store(s2, None).search("narwhal", mode="lexical")[0].node_id == n.id
    s2.close()


MALFORMED = ['"', '""', "*", "NEAR(", 'NEAR("a" "b", 2)', "a AND", "OR", "-x", "^start", "col:val", "'",
             "(((", "\x00", "🙂", "x" * 100_000, ("walrus " * 20_000), "   ", ""]


@pytest.mark.parametrize("q", MALFORMED)
def test_malformed_queries_never_raise(store, q):
    s, _ = store
    sr = Searcher.for_store(s, CountingEmbedder())
    for mode in ("lexical", "hybrid", "dense"):
        hits = sr.search(q, mode=mode)
        assert isinstance(hits, list)
    assert Searcher.for_store(s, None).search("walrus " + q, mode="lexical")  # still finds the word


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list('"*()^:-+ NEARORANDNOT{}[]\'walrus\x00é')), max_size=60) | st.text())
def test_fts_syntax_property(store, q):
    s, _ = store
    hits = ti.lexical(s._db, q)
    assert isinstance(hits, list)
    expr = ti.fts_query(q)
    if expr is not None:
        s._db.execute("SELECT count(*) FROM text_fts WHERE text_fts MATCH ?", (expr,)).fetchone()


def test_cli_json_keys_and_empty_result(tmp_path, capsys):
    search_mod._MEMORY.clear()
    s, keys = make_store(tmp_path / "c.sqlite")
    s.close()
    base = ["search", "--store", str(tmp_path / "c.sqlite"), "--set", "embedder.model=hashing"]
    assert cli([*base[:1], "walrus", *base[1:], "--json", "--top", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(set(h) == {"video", "start", "end", "node", "text", "score"} for h in hits)
    assert hits[0]["video"] in keys.values() and "walrus" in hits[0]["text"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert cli([*base[:1], "zzqqxx", *base[1:], "--json", "--mode", "lexical"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli([*base[:1], 'NEAR("', *base[1:], "--json", "--video", "zoo"]) == 0
    assert all(h["video"] == keys["zoo"] for h in json.loads(capsys.readouterr().out))
    assert cli([*base[:1], "walrus", *base[1:], "--video", "nope"]) == 1
    err = capsys.readouterr().err
    assert "--video 'nope'" in err and "Traceback" not in err
    assert cli(["search", "x", "--store", str(tmp_path / "missing.sqlite")]) == 1
    assert "no such store" in capsys.readouterr().err


def test_tree_round_trip_still_loads(store):
    s, keys = store  # the index tables must not disturb the store's own API
    t: CaptionTree = s.load_tree(keys["lec"])
    assert len(t.leaves()) == 4 and s.count_nodes(keys["lec"]) == len(t)


def test_common_words_dropped_past_the_scoring_budget(store, monkeypatch):
    s, keys = store
    sr = Searcher.for_store(s, None)
    every = sr.search("overview narrator walrus", mode="lexical", top=50)
    monkeypatch.setattr(ti, "SCORE_BUDGET", 3)  # 'overview'/'narrator' are on many rows, 'walrus' on two
    cut = sr.search("overview narrator walrus", mode="lexical", top=50)
    assert len(cut) < len(every) and all("walrus" in h.text.lower() for h in cut)
    monkeypatch.setattr(ti, "SCORE_BUDGET", 1)  # even the rarest word is over: all words must match
    assert ti._budgeted(s._db, ti.fts_query("narrator zoo") or "") == '"zoo" AND "narrator"'
    assert sr.search("narrator zoo", mode="lexical", top=50)  # AND matches: zoo's lines
    assert sr.search("walrus penguin", mode="lexical")  # AND matches nothing: falls back to OR


def test_demo_search_tab_callbacks(store):
    from videonav.agent.demo.ui import on_pick_hit, on_search

    s, keys = store

    class Svc:
        def __init__(self) -> None:
            self.store = s

        def search(self, q: str) -> list:
            return Searcher.for_store(s, None).search(q, mode="lexical")

    msg, rows, hits = on_search(Svc(), "penguin")
    assert "1 hits" in msg and rows[0][0] == "zoo" and rows[0][1] == "00:20"
    span, timeline = on_pick_hit(Svc(), hits, 0)
    assert "penguin" in span and "00:20" in span and "<svg" in timeline
    assert on_search(Svc(), "zzqqxx")[0] == "No matches in the store."
    assert on_pick_hit(Svc(), hits, 5)[0] == ""


def test_one_very_common_word_scores_only_its_newest_rows(store, monkeypatch):
    s, _ = store
    monkeypatch.setattr(ti, "SCORE_BUDGET", 4)  # 'narrator' is on 8 rows: only its 1 newest is scored
    hits = ti.lexical(s._db, "narrator")
    assert len(hits) == 1 and hits[0].field_id == max(h.field_id for h in ti._lexical(s._db, '"narrator"', None,
                                                                                          None, 50))


def test_planner_search_uses_store_for_store_backed_sources(store):
    from types import SimpleNamespace

    from videonav.tools.search import source_search

    s, keys = store
    emb = CountingEmbedder()
    assert source_search(SimpleNamespace(tree=None), "walrus", 3, emb) is None  # text trees: in-memory path
    hits = source_search(SimpleNamespace(store=s, key=keys["zoo"]), "walrus keeper penguin", 3, emb)
    assert hits and {h.tree_key for h in hits} == {keys["zoo"]} and all("." in h.node_id for h in hits)
    assert [h.start for h in hits] == sorted(h.start for h in hits)  # time order, as the planner shows them


class DigitBlindEmbedder(CountingEmbedder):
    """Every number looks alike to it, as 4821 and 4812 nearly do to a sentence embedder."""

    def encode(self, texts):  # type: ignore[no-untyped-def]
        return super().encode([" ".join("#" if any(c.isdigit() for c in w) else w for w in t.split())
                               for t in texts])


def test_exact_number_beats_a_dense_near_miss(tmp_path):
    search_mod._MEMORY.clear()
    s = Store(tmp_path / "n.sqlite")
    for key, cap in (("a-wrong", "number 4812"), ("b-right", "NUMBER 4821 with a small blue card below")):
        tree, leaves = skeleton(key, [(0.0, 10.0), (10.0, 20.0)], 2, 20.0, {})
        tree.replace(tree.node(leaves[0]).model_copy(update={"caption": cap}))
        tree.replace(tree.node(leaves[1]).model_copy(update={"caption": "an empty hall"}))
        tree.replace(tree.node("root").model_copy(update={"caption": "a talk"}))
        s.save_tree(key, tree)
    sr = Searcher.for_store(s, DigitBlindEmbedder())
    assert sr.search("number 4821", mode="dense", top=1)[0].tree_key == "a-wrong"
    assert sr.search("number 4821", mode="lexical", top=1)[0].tree_key == "b-right"
    assert sr.search("number 4821", mode="hybrid", top=1)[0].tree_key == "b-right"
    s.close()
