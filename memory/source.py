"""What the planner navigates: a tree plus the means to fill it in and look closer.

A text tree is complete up front; a lazy video tree captions nodes when the planner first
reaches them. Both subclass :class:`TreeSource` so the planner loop has one code path, and the
captions a question *caused to be built* are counted in its cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

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


class TreeSource(ABC):
    """Base class of every tree source (text and video); the planner needs nothing else.

    An ABC rather than a Protocol so that each source *declares* it and a source missing a
    method, or still returning a bare string from ``inspect``, fails where it is defined."""

    tree: CaptionTree
    cost: SourceCost

    @abstractmethod
    def ensure(self, node_ids: list[str]) -> list[Node]:
        """The nodes, captioned (building and storing any missing caption first)."""

    @abstractmethod
    def inspect(self, node_id: str, query: str, limit: int | None = None) -> Inspection:
        """A closer look at a node for ``query``: its most relevant original lines (text trees, at
        most ``limit``, so the caller can keep within its caption budget) or a clip-QA answer from
        the node's frames (video: ``text`` over the node's span, one read; ``limit`` unused)."""

    @property
    def tree_key(self) -> str | None:
        """The tree's key in the store, where the source stored it (video); None for a tree in memory."""
        return None

    def close(self) -> None:  # noqa: B027 (an optional hook, deliberately not abstract)
        """Release what the source holds (decoder, worker threads); the default holds nothing."""
