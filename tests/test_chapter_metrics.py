"""Chapter metrics: doctests plus the properties the benchmark table relies on."""

from __future__ import annotations

import doctest

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
