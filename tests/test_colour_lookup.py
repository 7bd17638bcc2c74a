"""A slide named by its colour is found and read right: a caption's colour for a shape's ink is not the
slide's colour (agent/scorer_features.colour_refs), and a question naming a colour (a title, a number)
that nothing read says makes the planner search the clips before descending (agent/planner._lookup)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videonav.agent.colours import colour_misses, colour_refs, tokens
from videonav.agent.config import load_config
from videonav.agent.extract import extract
from videonav.agent.observe import Read
from videonav.agent.planner import Planner
from videonav.agent.scorer import OptionScorer, answer_scores, load_weights
from videonav.agent.scorer_features import evidence_gap, unread_phrases
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree, Node
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder(dim=512)
SHAPES = ["circle", "square", "triangle"]
WHITE = "What shape moved across the white slide?"
# what the trained captioner writes: the sprite's ink before the shape word, then the slide's colour
INK = Read("A white triangle moves from left to right across a grey slide titled RAILWAYS 3 that shows NUMBER 2961.",
           712.0, 732.0, "3.2.1", "clip")  # clips of the same length: no tie is broken by span
SLIDE = Read("A white square moves from left to right across a white slide titled RAILWAYS 4 that shows NUMBER "
             "1868.", 732.0, 752.0, "3.2.2", "clip")


def test_colour_refs_tell_a_shapes_ink_and_a_shade_from_the_things_colour():
    assert colour_refs(tokens(INK.text)) == [("white", True), ("grey", False)]
    assert colour_refs(tokens("a circle on a dark red background")) == [("dark red", False)]
    assert colour_misses(WHITE, tokens(INK.text)) == {"white"}
    assert colour_misses(WHITE, tokens(SLIDE.text)) == set()
    assert colour_misses("What shape moved across the red slide?", tokens("on a dark red background")) == {"red"}
    # a question about the ink itself matches the ink
    assert colour_misses("Which slide showed a white triangle?", tokens(INK.text)) == set()


def test_gap_counts_a_colour_only_as_the_named_things_colour():
    assert evidence_gap(WHITE, [INK.text]) == 1.0  # "white" is the triangle's, the slide is grey
    assert evidence_gap(WHITE, [INK.text, SLIDE.text]) == 0.0
    assert evidence_gap("What shape moved across the red slide?", ["A circle glides on a dark red background."]) == 1.0
    assert evidence_gap("What number was shown on the orange slide?", ['"INSECTS 5 | NUMBER 8114" on orange']) == 0.0


def test_unread_phrases_are_the_words_to_look_up():
    assert unread_phrases(WHITE, [INK.text]) == (["white slide"], 1)
    assert unread_phrases(WHITE, [SLIDE.text]) == ([], 1)
    q = "Which city was named on the slide titled 'SPACE TRAVEL 1'?"
    assert unread_phrases(q, ["SPACE TRAVEL 5 | CITY HANOI"]) == (["space travel 1"], 1)
    assert unread_phrases("What does the dog catch?", ["a dog"]) == ([], 0)


def test_free_text_reader_answers_the_white_slides_shape_not_the_white_inks():
    for reads in ([INK, SLIDE], [SLIDE, INK]):
        assert extract(WHITE, reads, EMB).text == "square", reads


def test_option_scorer_prefers_the_white_slides_shape():
    scores, _ = answer_scores(OptionScorer(EMB, weights=load_weights()), WHITE, SHAPES, [INK, SLIDE], EMB, 4.0)
    assert int(np.argmax(scores)) == SHAPES.index("square"), scores


LEAVES = {  # the pink slide is under part 2, whose summary (like the extractive one) left it out
    "1.1": "A white circle moves from left to right across a dark blue slide titled BIRDS 1.",
    "1.2": "A white square moves from left to right across a grey slide titled BIRDS 2.",
    "2.1": "A white triangle moves from left to right across a pink slide titled BIRDS 3.",
    "2.2": "A white circle moves from left to right across a teal slide titled BIRDS 4.",
}


def pink_tree(captioned: bool = True) -> CaptionTree:
    t = CaptionTree("pink", 80.0)
    t.add(Node(id="root", start=0, end=80, level=0, caption=LEAVES["1.1"] + " " + LEAVES["2.2"]))
    t.add(Node(id="1", start=0, end=40, level=1, caption=LEAVES["1.1"] + " " + LEAVES["1.2"]))
    t.add(Node(id="2", start=40, end=80, level=1, caption=LEAVES["2.2"]))
    for i, (nid, cap) in enumerate(LEAVES.items()):
        t.add(Node(id=nid, start=20.0 * i, end=20.0 * (i + 1), level=2,
                   caption=cap if captioned or nid != "1.1" else None))
    return t


class StoredSource(TextTreeSource):
    """A text tree saved in a store: what a video's source offers the planner's search."""

    def __init__(self, tree: CaptionTree, path: Path) -> None:
        super().__init__(tree, EMB)
        self.store, self.key = Store(path), "pink-key"
        self.store.save_tree(self.key, tree)


def ask(source: TextTreeSource, question: str, options: list[str]):
    cfg = load_config(overrides=["planner.backend=none", "budget.max_captions=4", "planner.search_k=2",
                                 "planner.reserve_reads=0"])
    return Planner(cfg, None, EMB, OptionScorer(EMB, weights=load_weights())).ask(source, question, options)


def test_planner_searches_the_clips_for_a_colour_no_part_names(tmp_path: Path):
    src = StoredSource(pink_tree(), tmp_path / "s.sqlite")
    for options in (SHAPES, []):
        res = ask(src, "What shape moved across the pink slide?", options)
        assert res.trace[0].action == "search", [(s.action, s.arguments) for s in res.trace]
        assert res.trace[0].arguments["query"] == "What shape moved across the pink slide?"  # no options
        assert [s.action for s in res.trace].count("search") == 1
        assert res.answer == "triangle", (res.answer, [(s.action, s.arguments) for s in res.trace])
    src.store.close()


def test_no_lookup_when_a_read_names_it_or_clips_are_uncaptioned_or_there_is_no_store(tmp_path: Path):
    src = StoredSource(pink_tree(), tmp_path / "s.sqlite")
    # the teal slide is named by part 2's summary: descend as before
    assert ask(src, "What shape moved across the teal slide?", SHAPES).trace[0].action == "expand"
    # a time the question names leads there ("00:50" is no phrase to look up)
    assert ask(src, "What shape moved across the pink slide at 00:50?", SHAPES).trace[0].action != "search"
    src.store.close()
    lazy = StoredSource(pink_tree(captioned=False), tmp_path / "lazy.sqlite")
    assert ask(lazy, "What shape moved across the pink slide?", SHAPES).trace[0].action != "search"
    lazy.store.close()
    assert ask(TextTreeSource(pink_tree(), EMB), "What shape moved across the pink slide?",
               SHAPES).trace[0].action != "search"
