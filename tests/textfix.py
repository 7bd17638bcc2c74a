"""Tiny deterministic text fixtures for the core tests: timed captions, a tree, a scorer."""

from __future__ import annotations

import numpy as np

from videonav.memory.builders import build_from_timed_text
from videonav.memory.tree import CaptionTree, TimedText
from videonav.tools.embed import ExtractiveSummariser, HashingEmbedder

SCENES = [
    "A man cooks pasta in a small kitchen. Steam rises from the pot.",
    "A dog runs across a green park. The dog catches a red frisbee.",
    "A girl reads a book on a blue sofa. She turns a page slowly.",
    "Two men play guitar on a stage. The crowd claps loudly.",
    "A boy rides a bicycle down a hill. He wears a yellow helmet.",
    "A woman paints a picture of the sea. Her brush is wet.",
]


def timed_lines(seconds_per_scene: int = 10) -> list[TimedText]:
    """60 one-second captions: six scenes of ten seconds, each line a variant of its scene."""
    out = []
    for i, scene in enumerate(SCENES):
        for j in range(seconds_per_scene):
            t = float(i * seconds_per_scene + j)
            out.append(TimedText(start=t, end=t + 1, text=scene))
    return out


def small_tree(leaf_seconds: float = 5.0) -> CaptionTree:
    emb = HashingEmbedder()
    return build_from_timed_text("toy", timed_lines(), ExtractiveSummariser(emb, 3), leaf_seconds=leaf_seconds)


class MaxCosScorer:
    """The 43% baseline scorer: max cosine of (question + option) to any read text."""

    def __init__(self, embedder) -> None:  # noqa: ANN001
        self.e = embedder

    def score(self, question: str, options: list[str], texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(len(options))
        t = self.e.encode(texts)
        o = self.e.encode([f"{question} {x}" for x in options])
        return (o @ t.T).max(axis=1)

    def confidence(self, scores: np.ndarray, gap: float = 0.0) -> float:
        p = np.exp((scores - scores.max()) * 20)
        p /= p.sum()
        top = np.sort(p)[::-1]
        return float(top[0] - (top[1] if len(top) > 1 else 0.0))
