"""The planner's one speech hook: "Speech (spotted)" reads join the answer's evidence (agent/planner.py)."""

from __future__ import annotations

from typing import Any

import pytest

import videonav.agent.planner as planner_mod
from textfix import MaxCosScorer, small_tree
from videonav.agent.config import load_config
from videonav.agent.planner import Planner
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder()
OPTIONS = ["cooks pasta", "catches a red frisbee", "reads a book", "plays guitar", "paints the sea"]
Q = "What did the narrator say the dog does?"


def ask(question: str = Q) -> Any:
    cfg = load_config(overrides=["planner.confidence_threshold=1.0"])
    return Planner(cfg, None, EMB, MaxCosScorer(EMB)).ask(TextTreeSource(small_tree(), EMB, inspect_lines=3),
                                                         question, OPTIONS)


def test_spotted_speech_is_read_before_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def spotted(source: Any, question: str, options: list[str], spans: list[tuple[float, float]]) -> list:
        calls.append((question, list(options), list(spans)))
        return [(5.0, 8.0, 'Speech (spotted): "the dog paints the sea" at 5.0-8.0 s')]

    monkeypatch.setattr(planner_mod, "spoken_reads", spotted)
    res = ask()
    assert len(calls) == 1 and calls[0][0] == Q and calls[0][1] == OPTIONS
    assert all(b >= a for a, b in calls[0][2])
    assert res.answer == "paints the sea"
    assert any(s.kind == "speech" and (s.start, s.end) == (5.0, 8.0) for s in res.visited)


def test_text_trees_get_no_spotted_speech() -> None:
    res = ask()
    assert not any(s.kind == "speech" for s in res.visited)
