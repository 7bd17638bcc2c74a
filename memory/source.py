"""What the planner navigates: a tree plus the means to fill it in and look closer.

A text tree is complete up front; a lazy video tree captions nodes when the planner first
reaches them. Both sit behind this protocol so the planner loop has one code path, and the
captions a question *caused to be built* are counted in its cost.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from videonav.memory.tree import CaptionTree, Node


class SourceCost(BaseModel):
    """Work done by the source on behalf of one question."""

    captions_built: int = 0
    caption_seconds: float = 0.0
    decode_seconds: float = 0.0
    inspect_calls: int = 0
    inspect_seconds: float = 0.0


class TreeSource(Protocol):
    tree: CaptionTree
    cost: SourceCost

    def ensure(self, node_ids: list[str]) -> list[Node]:
        """The nodes, captioned (building and storing any missing caption first)."""
        ...

    def inspect(self, node_id: str, query: str) -> str:
        """Clip QA on a node: an answer to ``query`` from the node's frames (video) or lines (text)."""
        ...
