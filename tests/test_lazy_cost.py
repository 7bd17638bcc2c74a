"""A question's cost counts the captions *it* caused to be built, not the source's running total."""

from __future__ import annotations

from textfix import MaxCosScorer, small_tree
from videonav.agent.config import load_config
from videonav.agent.planner import Planner
from videonav.memory.tree import Node
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder()
OPTIONS = ["cooks pasta", "catches a red frisbee", "reads a book", "plays guitar", "paints the sea"]


class CountingSource(TextTreeSource):
    """A text tree that books one built caption (0.5 s) per node ensured, as a lazy video tree does."""

    def ensure(self, node_ids: list[str]) -> list[Node]:
        self.cost.captions_built += len(node_ids)
        self.cost.caption_seconds += 0.5 * len(node_ids)
        return super().ensure(node_ids)


def test_captions_built_are_per_question_on_a_shared_source() -> None:
    cfg = load_config(overrides=["planner.confidence_threshold=1.0"])
    planner = Planner(cfg, None, EMB, MaxCosScorer(EMB))
    src = CountingSource(small_tree(), EMB, inspect_lines=3)
    first = planner.ask(src, "what does the dog catch in the park", OPTIONS)
    after_first = src.cost.captions_built
    second = planner.ask(src, "what does the cook make in the kitchen", OPTIONS)
    assert first.cost.captions_built == after_first > 0
    assert second.cost.captions_built == src.cost.captions_built - after_first > 0
    assert second.cost.caption_seconds == 0.5 * second.cost.captions_built
