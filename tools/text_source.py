"""A :class:`TreeSource` over a text tree (captions imported from files): nothing to build.

``inspect`` on a text tree answers from the node's original timed lines: the lines most
similar to the query, shown verbatim in time order (each counts as one caption read).
"""

from __future__ import annotations

import hashlib

import numpy as np

from videonav.memory.builders import Summariser, build_from_timed_text
from videonav.memory.config import TreeConfig
from videonav.memory.source import Inspection, SourceCost, TreeSource
from videonav.memory.store import Store, tree_key
from videonav.memory.tree import CaptionTree, Node, TimedText
from videonav.tools.embed import Embedder, ExtractiveSummariser


class TextTreeSource(TreeSource):
    def __init__(self, tree: CaptionTree, embedder: Embedder, inspect_lines: int = 4) -> None:
        self.tree = tree
        self.embedder = embedder
        self.inspect_lines = inspect_lines
        self.cost = SourceCost()

    def ensure(self, node_ids: list[str]) -> list[Node]:
        return [self.tree.node(n) for n in node_ids]

    def inspect(self, node_id: str, query: str, limit: int | None = None) -> Inspection:
        """The ``limit`` (default ``inspect_lines``) lines under the node most similar to the query."""
        self.cost.inspect_calls += 1
        k = self.inspect_lines if limit is None else max(1, min(limit, self.inspect_lines))
        lines = self.tree.lines_under(node_id)
        if not lines:
            node = self.tree.node(node_id)
            return Inspection(text=node.caption or "", reads=1)
        if len(lines) > k and query.strip():
            q = self.embedder.encode([query])[0]
            sims = self.embedder.encode([ln.text for ln in lines]) @ q
            keep = sorted(np.argsort(-sims)[:k].tolist())
            lines = [lines[i] for i in keep]
        else:
            lines = lines[:k]
        return Inspection(lines=list(lines), reads=len(lines))


def text_tree_key(lines: list[TimedText], cfg: TreeConfig, embedder: Embedder, summarise: object = None) -> str:
    """Store key naming the caption text and every setting that changes the tree."""
    h = hashlib.sha256("\n".join(f"{ln.start}|{ln.end}|{ln.text}" for ln in lines).encode()).hexdigest()
    return tree_key(h, kind="text", leaf=cfg.leaf_seconds, width=cfg.width, summariser=cfg.summariser,
                    sentences=cfg.summary_sentences, embedder=getattr(embedder, "name", "?"),
                    llm=getattr(summarise, "model_id", ""))


def text_tree(video_id: str, lines: list[TimedText], cfg: TreeConfig, embedder: Embedder,
              store: Store | None = None, summarise: Summariser | None = None) -> CaptionTree:
    """Build (or load from the store) the caption tree of timed captions.

    Cached under :func:`text_tree_key`, so a rerun of an evaluation loads trees instead of
    re-embedding every sentence.
    """
    summ = summarise or ExtractiveSummariser(embedder, cfg.summary_sentences)
    key = text_tree_key(lines, cfg, embedder, summarise)
    if store is not None and store.has_tree(key):
        return store.load_tree(key)
    tree = build_from_timed_text(video_id, lines, summ, leaf_seconds=cfg.leaf_seconds, width=cfg.width)
    if store is not None:
        store.save_tree(key, tree)
    return tree
