"""What the planner navigates: a tree plus the means to fill it in and look closer.

A text tree is complete up front; a lazy video tree captions nodes when the planner first
reaches them. Both sit behind this protocol so the planner loop has one code path, and the
captions a question *caused to be built* are counted in its cost.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from videonav.memory.tree import CaptionTree, Node, TimedText


class SourceCost(BaseModel):
    """Work done by the source on behalf of one question."""

    captions_built: int = 0
    caption_seconds: float = 0.0
    decode_seconds: float = 0.0
    inspect_calls: int = 0
    inspect_seconds: float = 0.0


class Inspection(BaseModel):
    """A structured inspect result: what was shown, from which spans, and how many captions that is."""

    text: str = Field("", description="free-text answer (clip QA)")
    lines: list[TimedText] = Field(default_factory=list, description="original timed lines shown verbatim")
    reads: int = 1

    @property
    def spans(self) -> list[tuple[float, float]]:
        return [(ln.start, ln.end) for ln in self.lines]


class TreeSource(Protocol):
    tree: CaptionTree
    cost: SourceCost

    def ensure(self, node_ids: list[str]) -> list[Node]:
        """The nodes, captioned (building and storing any missing caption first)."""
        ...

    def inspect(self, node_id: str, query: str) -> str | Inspection:
        """Clip QA on a node: an answer to ``query`` from the node's frames (video) or lines (text).

        A plain string counts as one caption read over the node's span."""
        ...
