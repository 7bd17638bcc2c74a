"""A :class:`TreeSource` over a text tree (captions imported from files): nothing to build.

``inspect`` on a text tree answers from the node's original timed lines: the lines most
similar to the query, shown verbatim in time order (each counts as one caption read).
"""

from __future__ import annotations

import numpy as np

from videonav.memory.source import Inspection, SourceCost
from videonav.memory.tree import CaptionTree, Node
from videonav.tools.embed import Embedder


class TextTreeSource:
    def __init__(self, tree: CaptionTree, embedder: Embedder, inspect_lines: int = 4) -> None:
        self.tree = tree
        self.embedder = embedder
        self.inspect_lines = inspect_lines
        self.cost = SourceCost()

    def ensure(self, node_ids: list[str]) -> list[Node]:
        return [self.tree.node(n) for n in node_ids]

    def inspect(self, node_id: str, query: str) -> Inspection:
        self.cost.inspect_calls += 1
        lines = self.tree.lines_under(node_id)
        if not lines:
            node = self.tree.node(node_id)
            return Inspection(text=node.caption or "", reads=1)
        if len(lines) > self.inspect_lines and query.strip():
            q = self.embedder.encode([query])[0]
            sims = self.embedder.encode([ln.text for ln in lines]) @ q
            keep = sorted(np.argsort(-sims)[: self.inspect_lines].tolist())
            lines = [lines[i] for i in keep]
        else:
            lines = lines[: self.inspect_lines]
        return Inspection(lines=list(lines), reads=len(lines))
