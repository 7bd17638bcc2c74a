"""OptionScorer: real behaviour with the hashing embedder (no weights, no data needed)."""

from __future__ import annotations

import numpy as np
import pytest
from scripted import ScriptedLLM

from videonav.agent.scorer import FEATURES, OptionScorer, content_words, load_default_scorer, load_weights
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
    assert set(w["features"]) <= set(FEATURES)
    assert set(w["mean"]) == set(w["std"]) == set(FEATURES)
    assert all(v > 0 for v in w["std"].values())
    a, _ = w["calib"]
    assert a > 0


def test_features_shape_and_no_text_columns_zero():
    sc = OptionScorer(HashingEmbedder(dim=512))
    f = sc.features(Q, OPTS, TEXTS)
    assert f.shape == (5, len(FEATURES))
    f0 = sc.features(Q, OPTS, [])
    caption_cols = [FEATURES.index(n) for n in FEATURES if n not in ("o_bias", "q_o", "o_len")]
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
