"""Cuts from the 1-fps scan land on the card changes; leaves tile the video within [min, max]."""

from __future__ import annotations

import random

import numpy as np
import pytest

from videonav.tools.config import VideoConfig
from videonav.tools.video.probe import probe
from videonav.tools.video.readers import open_reader
from videonav.tools.video.shots import (
    SceneScan,
    frame_stats,
    scan_video,
    segment_leaves,
    stats_sentence,
)


@pytest.fixture(scope="module")
def scan(tiny_video) -> SceneScan:
    info = probe(tiny_video.path)
    return scan_video(open_reader(info), info, VideoConfig())


def test_scan_finds_the_card_changes(scan):
    assert len(scan.cuts) == 3
    for got, want in zip(scan.cuts, [5.0, 10.0, 15.0], strict=True):
        assert abs(got - want) <= 0.6


def test_span_stats_name_colours_and_motion(scan):
    red, blue = scan.span_stats(0, 5), scan.span_stats(5, 10)
    assert red["colours"][0] == "red" and blue["colours"][0] == "blue"
    assert red["shots"] == 1 and scan.span_stats(0, 20)["shots"] == 4
    assert red["motion_level"] in ("low motion", "moderate motion")  # the moving square
    assert "mostly red" in stats_sentence(red)


def test_scan_round_trips_through_json(scan):
    back = SceneScan.from_dict(scan.to_dict())
    assert back.cuts == scan.cuts and np.allclose(back.brightness, scan.brightness, atol=1e-3)
    assert back.span_stats(5, 10)["colours"] == scan.span_stats(5, 10)["colours"]


def test_frame_stats_without_a_scan():
    red = np.zeros((36, 64, 3), np.uint8)
    red[...] = (215, 35, 35)
    blue = red.copy()
    blue[...] = (35, 70, 210)
    s = frame_stats([red, red, blue])
    assert s["shots"] == 2 and set(s["colours"]) == {"red", "blue"}


def check_tiling(spans, duration, lo, hi, cuts):
    assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(duration, abs=1e-3)
    for (a, b), (c, _) in zip(spans, spans[1:], strict=False):
        assert b == pytest.approx(c) and b > a
    for a, b in spans:
        assert b - a <= hi + lo + 1e-6  # a merged tail may exceed max by less than min
    if len(spans) > 1:
        assert all(b - a >= lo / 2 - 1e-6 for a, b in spans)


def test_segment_leaves_examples():
    assert segment_leaves([12.0, 40.0, 45.0, 80.0], 100.0, 10, 30) == [
        (0.0, 12.0), (12.0, 40.0), (40.0, 60.0), (60.0, 80.0), (80.0, 100.0)]
    assert segment_leaves([], 95.0, 10, 30) == [(0.0, 23.75), (23.75, 47.5), (47.5, 71.25), (71.25, 95.0)]
    assert segment_leaves([1.0, 2.0, 3.0], 4.0, 10, 30) == [(0.0, 4.0)]
    assert segment_leaves([], 0.0, 10, 30) == []


def test_segment_leaves_random_tilings_prefer_cuts():
    rng = random.Random(0)
    for _ in range(300):
        duration = rng.uniform(5, 900)
        cuts = sorted(rng.uniform(0, duration) for _ in range(rng.randint(0, 60)))
        spans = segment_leaves(cuts, duration, 10, 30)
        check_tiling(spans, duration, 10, 30, cuts)
    spans = segment_leaves([15.0, 33.0, 50.0, 71.0], 90.0, 10, 30)
    assert {b for _, b in spans[:-1]} <= {15.0, 33.0, 50.0, 71.0}
