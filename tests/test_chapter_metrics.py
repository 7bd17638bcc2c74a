"""Chapter metrics: doctests plus the properties the benchmark table relies on."""

from __future__ import annotations

import doctest
import importlib.util

import numpy as np
import pytest

from videonav.agent.chapters import metrics as cm
from videonav.tools.embed import HashingEmbedder


def test_doctests() -> None:
    res = doctest.testmod(cm)
    assert res.attempted >= 10 and res.failed == 0


TRUE = [(0.0, 30.0), (30.0, 75.0), (75.0, 120.0)]


def test_perfect_prediction_scores_one() -> None:
    assert cm.segment_f1_avg(TRUE, TRUE) == 1.0
    assert cm.boundary_pr(TRUE, TRUE, 3) == (1.0, 1.0)


def test_single_chapter_gets_no_boundary_credit() -> None:
    """A one-chapter prediction must not look precise just because t=0 always matches."""
    assert cm.boundary_pr([(0.0, 120.0)], TRUE, 5) == (0.0, 0.0)
    p, r = cm.boundary_pr([(0.0, 120.0)], TRUE, 5, ignore_first=False)
    assert p == 1.0 and r == pytest.approx(1 / 3)


def test_boundaries_within_window_only() -> None:
    pred = [(0.0, 34.0), (34.0, 79.5), (79.5, 120.0)]
    assert cm.boundary_pr(pred, TRUE, 3) == (0.0, 0.0)
    assert cm.boundary_pr(pred, TRUE, 5) == (1.0, 1.0)


def test_one_to_one_matching() -> None:
    """Two predicted boundaries near one true boundary count once."""
    pred = [(0.0, 29.0), (29.0, 31.0), (31.0, 120.0)]
    p, r = cm.boundary_pr(pred, [(0.0, 30.0), (30.0, 120.0)], 3)
    assert p == 0.5 and r == 1.0


def test_segment_f1_monotone_in_threshold() -> None:
    pred = [(0.0, 33.0), (33.0, 70.0), (70.0, 120.0)]
    f = [cm.segment_prf(pred, TRUE, t)[2] for t in cm.TIOU_THRESHOLDS]
    assert all(a >= b for a, b in zip(f, f[1:], strict=False))
    assert 0 < cm.segment_f1_avg(pred, TRUE) < 1


def test_title_similarity_with_embedder() -> None:
    emb = HashingEmbedder()
    pred = [(0.0, 30.0, "Making fresh pasta"), (30.0, 120.0, "Eating dinner outside")]
    true = [(0.0, 30.0, "Making fresh pasta"), (30.0, 120.0, "Eating dinner outside")]
    assert cm.title_similarity(pred, true, emb.encode) == pytest.approx(1.0, abs=1e-5)
    other = [(0.0, 30.0, "Volcano eruption"), (30.0, 120.0, "Space rockets")]
    assert cm.title_similarity(other, true, emb.encode) < 0.5
    assert cm.title_similarity(other, true) == 0.0


def test_tiou_symmetric_and_bounded() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = tuple(sorted(rng.uniform(0, 100, 2)))
        b = tuple(sorted(rng.uniform(0, 100, 2)))
        v = cm.tiou(a, b)  # type: ignore[arg-type]
        assert 0.0 <= v <= 1.0 and v == pytest.approx(cm.tiou(b, a))  # type: ignore[arg-type]


def test_matching_is_maximum_against_brute_force() -> None:
    import itertools
    import random

    rng = random.Random(0)
    for _ in range(200):
        n, m = rng.randint(0, 5), rng.randint(1, 5)
        allowed = [[rng.random() < 0.4 for _ in range(m)] for _ in range(n)]
        best = 0
        for k in range(min(n, m), 0, -1):  # the largest k rows that can take k distinct columns
            if any(all(allowed[r][c] for r, c in zip(rows, cols, strict=True))
                   for rows in itertools.combinations(range(n), k) for cols in itertools.permutations(range(m), k)):
                best = k
                break
        assert cm.max_matching(allowed) == best


# four words or more: CIDEr-D averages 1- to 4-gram similarities, so identical titles score 10
TITLED_TRUE = [(0.0, 10.0, "Making fresh pasta at home"), (10.0, 20.0, "Eating dinner outside with friends")]
# tIoU 0.83 and 0.80 with their references: matched at 0.3/0.5/0.7, not at 0.9
TITLED_SHIFTED = [(0.0, 12.0, "Making fresh pasta at home"), (12.0, 20.0, "Eating dinner outside with friends")]


needs_coco = pytest.mark.skipif(importlib.util.find_spec("pycocoevalcap") is None,
                                reason="pycocoevalcap (videonav[eval]) is not installed")


@needs_coco
def test_dvc_cider_follows_the_tiou_protocol() -> None:
    out = cm.dvc_title_scores({"v": (TITLED_SHIFTED, TITLED_TRUE)}, meteor=False, tokenizer="simple")
    per = {t: s["CIDEr"] for t, s in out["per_tiou"].items()}
    assert per["0.3"] == per["0.5"] == per["0.7"] == pytest.approx(10.0)  # CIDEr-D of identical titles
    assert per["0.9"] == 0.0  # only garbage references left
    assert out["CIDEr"] == pytest.approx(7.5) and out["METEOR"] is None


@needs_coco
def test_dvc_wrong_titles_and_missing_videos_score_low() -> None:
    wrong = [(0.0, 10.0, "Volcano eruption"), (10.0, 20.0, "Space rockets launch")]
    out = cm.dvc_title_scores({"v": (wrong, TITLED_TRUE)}, meteor=False, tokenizer="simple")
    assert out["CIDEr"] == 0.0
    both = cm.dvc_title_scores({"v": (TITLED_TRUE, TITLED_TRUE), "w": ([], TITLED_TRUE)}, meteor=False,
                               tokenizer="simple")
    assert both["CIDEr"] == pytest.approx(5.0)  # the video without predictions counts as 0


@needs_coco
def test_dvc_without_java_skips_meteor_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from videonav.agent.evaluation import caption_metrics

    monkeypatch.setattr(caption_metrics, "java_available", lambda: False)
    out = cm.dvc_title_scores({"v": (TITLED_TRUE, TITLED_TRUE)})
    assert out["METEOR"] is None and "Java" in out["notes"][0] and out["tokenizer"] == "simple"
    assert out["CIDEr"] == pytest.approx(10.0)


@pytest.mark.slow  # METEOR and the PTB tokenizer start Java (~40 s on a busy 2-core machine)
def test_dvc_meteor_with_java() -> None:
    from videonav.agent.evaluation.caption_metrics import java_available

    if not java_available():
        pytest.skip("METEOR needs a Java runtime")
    out = cm.dvc_title_scores({"v": (TITLED_SHIFTED, TITLED_TRUE)})
    per = out["per_tiou"]
    assert per["0.5"]["METEOR"] > 0.9 and per["0.9"]["METEOR"] < 0.1
    assert out["tokenizer"] == "ptb" and 0.6 < out["METEOR"] < 0.8
