"""Moment, option-set, question-kind, sentence and derived features of the option scorer
(agent/scorer_extra.py), with the hashing embedder: no weights or data needed."""

from __future__ import annotations

import numpy as np
import pytest

from videonav.agent.scorer import FEATURES, NO_TEXT_FEATURES, OptionScorer, load_default_scorer
from videonav.agent.scorer_extra import column, extra_features, question_kinds, sentence_features
from videonav.tools.embed import HashingEmbedder

EMB = HashingEmbedder(dim=512)


def test_question_kinds_come_from_the_wording():
    assert question_kinds("why did the boy cry").tolist() == [1, 0, 0, 0]
    assert question_kinds("how did the man open the door").tolist() == [1, 0, 0, 0]
    assert question_kinds("what did the girl do after she fell").tolist() == [0, 1, 0, 0]
    assert question_kinds("where is this video taken").tolist() == [0, 0, 1, 0]
    assert question_kinds("how many people are on stage").tolist() == [0, 0, 0, 1]
    assert question_kinds("what is the man holding").tolist() == [0, 0, 0, 0]


def _feats(question, options, texts):
    return OptionScorer(EMB).features(question, options, texts)


def test_o_dir_reads_the_texts_after_or_before_the_anchor():
    texts = ["a dog eats food from a bowl", "a dog runs to the red cushion", "a dog sleeps on the sofa"]
    opts = ["eats food from a bowl", "sleeps on the sofa"]
    j = FEATURES.index("o_dir")
    after = _feats("what does the dog do after running to the red cushion", opts, texts)[:, j]
    before = _feats("what does the dog do before running to the red cushion", opts, texts)[:, j]
    assert after[1] > after[0]       # what follows the anchor
    assert before[0] > before[1]     # what precedes it
    # the order of the texts, not the options, decides
    rev = _feats("what does the dog do after running to the red cushion", opts, texts[::-1])[:, j]
    assert rev[0] > rev[1]


def test_sentence_features_pick_the_one_sentence_that_states_the_option():
    long = ("The room is large and bright. There are shelves along the walls and a window. "
            "A man strums a guitar. A lamp stands in the corner and a rug lies on the floor.")
    opts = ["strums a guitar", "rides a bicycle", "bakes a cake"]
    f = _feats("what is the man doing", opts, [long])
    s, c = f[:, FEATURES.index("s_o_max")], f[:, FEATURES.index("o_max")]
    assert int(np.argmax(s)) == 0
    assert s[0] > c[0]                          # sharper than the whole text's one vector
    # one sentence per text: the sentence features equal the text-level ones
    short = ["A man strums a guitar.", "A dog barks."]
    g = _feats("what is the man doing", opts, short)
    for a, b in (("s_qo_max", "qo_max"), ("s_o_max", "o_max"), ("s_o_top3", "o_top3"), ("s_qo_top3", "qo_top3")):
        np.testing.assert_allclose(g[:, FEATURES.index(a)], g[:, FEATURES.index(b)], atol=1e-6)


def test_sentence_features_without_sentences_are_zero():
    o = EMB.encode(["a", "b"])
    assert sentence_features(o[0], o, o, np.zeros((0, 512))).tolist() == [[0.0] * 6] * 2


def test_no_text_features_only_without_texts():
    f0 = _feats("why did the boy cry", ["he fell", "he was hungry", "he won"], [])
    caption_cols = [FEATURES.index(n) for n in FEATURES if n not in NO_TEXT_FEATURES]
    assert np.all(f0[:, caption_cols] == 0)
    assert np.all(f0[:, FEATURES.index("k_causal")] == 1)
    e = extra_features(EMB.encode(["q"])[0], EMB.encode(["red ball", "red ball", "green tree"]), np.zeros((0, 512)),
                       ["red ball", "red ball", "green tree"], [], "q")
    cent = e[:, 4]
    assert cent[0] == cent[1] > cent[2]         # the two identical options are the central ones


def test_lex_idf_weights_rare_words_more():
    texts = ["a man in a room", "a man with a red kite", "a man in a room", "a man walks"]
    f = _feats("what does he hold", ["man boat", "kite boat", "blue boat"], texts)
    lex, idf = f[:, FEATURES.index("lex")], f[:, FEATURES.index("lex_idf")]
    assert lex[0] == lex[1] == 0.5 and lex[2] == 0.0
    assert idf[1] > idf[0] > idf[2] == 0.0      # "man" is in every text: finding it says little


def test_derived_columns():
    X = np.zeros((2, 3, 2))
    X[0, :, 0] = [1.0, 3.0, 2.0]
    X[1, :, 0] = [5.0, 5.0, 0.0]
    X[0, :, 1] = 1.0                            # a question-kind column: question 0 only
    names = ["a", "k_causal"]
    np.testing.assert_allclose(column("m:a", X, names), [[-2, 1, -1], [0, 0, -5]])
    np.testing.assert_allclose(column("r:a", X, names), [[0, 1, 0], [0.5, 0.5, 0]])
    z = column("z:a", X, names)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1)
    g = column("causal*a", X, names)
    np.testing.assert_allclose(g[0], z[0])
    assert np.all(g[1] == 0)
    # masked slots (a question with fewer options) neither count nor get a value
    mask = np.array([[True, True, False], [True, True, True]])
    zm = column("z:a", X, names, mask)
    assert zm[0, 2] == 0 and zm[0, 0] == -1 and zm[0, 1] == 1
    assert column("m:a", X, names, mask)[0].tolist() == [-2.0, 2.0, 0.0]
    with pytest.raises(ValueError, match="unknown feature"):
        column("q:a", X, names)
    with pytest.raises(ValueError, match="unknown feature"):
        column("z:nope", X, names)


def test_scorer_applies_derived_weights():
    w = {"features": {"r:qo_max": 1.0, "causal*lex": 0.5}, "mean": {}, "std": {}, "calib": [1.0, 0.0]}
    sc = OptionScorer(EMB, weights=w)
    opts = ["strums a guitar", "rides a bicycle"]
    s = sc.score("why is the man happy", opts, ["A man strums a guitar and smiles."])
    f = sc.features("why is the man happy", opts, ["A man strums a guitar and smiles."])
    best = int(np.argmax(f[:, FEATURES.index("qo_max")]))
    assert s[best] == pytest.approx(s.max()) and s[best] - s[1 - best] >= 1.0


def test_default_scorer_finite_on_odd_inputs():
    sc = load_default_scorer(EMB)
    for texts in ([], [""], ["one"], ["a. b. c."] * 30):
        s = sc.score("what happened after the end", ["x", "y", "z", "x", ""], texts)
        assert s.shape == (5,) and np.all(np.isfinite(s))
