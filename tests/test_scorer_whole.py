"""Whole-video questions and egocentric narrations: the scorer's transfer beyond NExT-QA.

EgoSchema-style questions ("What is the overall goal of C's actions?") over 180 "#C C cuts the
onion" narrations are scored by the whole-video model (aggregates over everything read), not by
the main model's best single match, which an interruption or a passing object wins."""

from __future__ import annotations

import numpy as np
import pytest

from videonav.agent.scorer import FEATURES, WHOLE_FEATURES, OptionScorer, load_default_scorer, option_zscore
from videonav.agent.scorer_features import content_words, is_narration, normalise_narration, whole_video
from videonav.tools.embed import HashingEmbedder

COOK = ["cuts the onion with the knife", "slices the pepper on the board", "stirs the vegetables in the pan",
        "pours oil into the pan", "puts the pan on the stove"]
FILLER = ["looks around", "holds the plate", "adjusts the camera"]
QUESTION = "What is the overall goal of C's actions in the video?"
OPTIONS = [
    "C's primary objective is to cook a vegetable meal, cutting the onion, slicing the pepper and stirring the pan.",
    "C's primary objective is to wash the dishes, washing the plate in the sink with the sponge.",
    "C's primary objective is to bake a cake, pouring flour into a bowl and mixing the batter.",
    "C's primary objective is to clean the counter, wiping it with a cloth and throwing peels in the bin.",
    "C's primary objective is to repair a bicycle, removing the wheel and patching the tube.",
]


def narrations() -> list[str]:
    """Cooking throughout, filler, and a short interruption that says the dish-washing option word for word."""
    rng = np.random.default_rng(0)
    caps = [f"#C C {COOK[i % len(COOK)]}" if rng.random() > 0.3 else f"#C C {rng.choice(FILLER)}"
            for i in range(150)]
    wash = ["#C C washes the plate in the sink with the sponge to wash the dishes"] * 4
    return caps[:70] + wash + caps[70:]


def test_narration_is_rewritten_as_plain_sentences():
    assert normalise_narration("#C C picks up the knife #O a man X talks to C") == (
        "someone picks up the knife. a man X talks to someone.")
    assert normalise_narration("C's aim is to cook") == "someone's aim is to cook"
    # "C" (the camera wearer, in every narration and option) is not a content word once rewritten
    assert "c" in content_words("#C C cuts the onion")
    assert content_words(normalise_narration("#C C cuts the onion")) == {"cut", "onion"}
    assert is_narration(["a man walks", "#C C walks"]) and not is_narration(["A man walks. He sits."])
    # a text with no narration marker keeps its words (NExT-QA captions are untouched)
    plain = "The image shows a man in a room. He is holding a cup."
    assert normalise_narration(plain) == plain


@pytest.mark.parametrize("q", [QUESTION, "Summarize the main activity that C performs throughout the video.",
                               "What is C primarily trying to accomplish?", "What is C doing?",
                               "Considering all of C's actions, what best describes the purpose of the video?",
                               "What is the significance of the interaction between C and the man in the video?",
                               "Identify the critical steps C takes to fix the bike.",
                               "Which tool does C use most often?"])
def test_whole_video_questions_are_recognised(q):
    assert whole_video(q)


@pytest.mark.parametrize("q", ["what did the boy do after he fell", "What does C pick up after washing the knife?",
                               "why did the man pick up the red cup",
                               "What number was shown on the white slide?", "how many dogs are there",
                               "Which city was named on the slide titled 'SPACE TRAVEL 1'?"])
def test_questions_about_a_moment_are_not(q):
    assert not whole_video(q)


def test_option_zscore_is_free_of_scale_and_offset():
    f = np.random.default_rng(1).normal(size=(5, len(WHOLE_FEATURES)))
    assert np.allclose(option_zscore(f), option_zscore(10.0 * f + 3.0))
    assert np.allclose(option_zscore(f).mean(axis=0), 0.0)
    assert np.allclose(option_zscore(np.ones((5, 2))), 0.0)  # a feature all options share says nothing


def test_the_whole_activity_beats_the_interruption_that_matches_best():
    scorer = load_default_scorer(HashingEmbedder(dim=512))
    assert scorer.whole_model(QUESTION) is not None
    texts = narrations()
    s = scorer.score(QUESTION, OPTIONS, texts)
    assert int(np.argmax(s)) == 0
    # the main model alone follows the single best-matching caption: the interruption
    main = OptionScorer(scorer.embedder, weights={k: v for k, v in scorer.weights.items() if k != "whole_video"})
    f = main.features(QUESTION, OPTIONS, texts)
    assert int(np.argmax(f[:, FEATURES.index("qo_max")])) == 1
    assert 0.0 <= scorer.confidence(s, question=QUESTION) <= 1.0


def test_a_question_about_a_moment_keeps_the_main_model():
    scorer = load_default_scorer(HashingEmbedder(dim=512))
    q = "what does C wash in the sink"
    opts = ["the plate", "the onion", "the pan", "the bowl", "the knife"]
    assert scorer.whole_model(q) is None
    assert int(np.argmax(scorer.score(q, opts, narrations()))) == 0


def test_guided_reads_a_whole_video_question_level_by_level():
    from videonav.agent.config import load_config
    from videonav.agent.planner import Planner
    from videonav.memory.tree import TimedText
    from videonav.tools.text_source import TextTreeSource, text_tree

    emb = HashingEmbedder(dim=512)
    cfg = load_config(overrides=["planner.backend=none", "planner.confidence_threshold=1.0"])
    lines = [TimedText(start=float(i), end=float(i + 1), text=t) for i, t in enumerate(narrations())]
    tree = text_tree("ego", lines, cfg.tree, emb)
    planner = Planner(cfg, None, emb, load_default_scorer(emb))
    res = planner.ask(TextTreeSource(tree, emb, cfg.planner.inspect_lines), QUESTION, OPTIONS)
    expanded = [tree.node(s.arguments["node_id"]).level for s in res.trace if s.action == "expand"]
    top = len(tree.children(tree.root.id))
    # every top-level part is opened before anything deeper: the reads cover the whole video evenly
    assert expanded[:top] == [1] * top and expanded == sorted(expanded)
    assert res.cost.captions_read <= cfg.budget.max_captions
    # a question about one moment still follows the similarity prior (descends where the sink is)
    res = planner.ask(TextTreeSource(tree, emb, cfg.planner.inspect_lines), "what does C wash in the sink",
                      ["the plate", "the onion", "the pan", "the bowl", "the knife"])
    assert [tree.node(s.arguments["node_id"]).level for s in res.trace if s.action == "expand"][:2] == [1, 2]
