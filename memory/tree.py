"""The caption tree: whole video -> chapters -> scenes -> clips.

Nodes are frozen pydantic models with stable path ids (``root``, ``2``, ``2.3``, ``2.3.1``;
children are numbered from 1 like LongVideo-R1), so an id names the same span in every
run and can be cited, cached and used as a training target. networkx stays behind this
small API: callers never touch the graph.

A node's ``caption`` may be ``None`` in a lazy tree: the span exists, its caption is built
on demand (see ``videonav.tools.video.index``). Leaves built from timed text keep the original
lines in ``lines`` so that clip-level tools can show them verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

ROOT = "root"


class TreeError(ValueError):
    """A tree is malformed or an id does not exist."""


class TimedText(BaseModel):
    """One timed line: a 1-fps caption, a subtitle cue, an OCR read."""

    model_config = ConfigDict(frozen=True)
    start: float
    end: float
    text: str


class Provenance(BaseModel):
    """What produced a caption; part of every cache key."""

    model_config = ConfigDict(frozen=True)
    backend: str = "import"
    model: str = ""
    prompt_version: str = ""


class Node(BaseModel):
    """One span of the video and what is known about it."""

    model_config = ConfigDict(frozen=True)
    id: str
    start: float
    end: float
    level: int = Field(description="0 for the root, +1 per generation")
    caption: str | None = None
    transcript: str | None = Field(default=None, description="subtitle/ASR text inside the span")
    lines: tuple[TimedText, ...] = Field(default=(), description="original timed lines (leaves)")
    provenance: Provenance = Provenance()

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def span(self) -> tuple[float, float]:
        return (self.start, self.end)


def child_id(parent: str, index: int) -> str:
    """Path id of the ``index``-th child (1-based).

    >>> child_id("root", 2), child_id("2", 3)
    ('2', '2.3')
    """
    return str(index) if parent == ROOT else f"{parent}.{index}"


def parent_id(node_id: str) -> str | None:
    """Path id of the parent, ``None`` for the root.

    >>> parent_id("2.3"), parent_id("2"), parent_id("root")
    ('2', 'root', None)
    """
    if node_id == ROOT:
        return None
    return node_id.rsplit(".", 1)[0] if "." in node_id else ROOT


class CaptionTree:
    """A rooted, ordered tree of :class:`Node` with a few metadata fields."""

    def __init__(self, video_id: str, duration: float, meta: dict[str, Any] | None = None) -> None:
        self.video_id = video_id
        self.duration = float(duration)
        if not math.isfinite(self.duration) or self.duration < 0:
            raise TreeError(f"tree of {video_id!r}: duration {duration!r} is not a finite number of seconds >= 0")
        self.meta: dict[str, Any] = dict(meta or {})
        self._g: nx.DiGraph = nx.DiGraph()

    # -- construction -------------------------------------------------------------
    def add(self, node: Node) -> Node:
        """Add a node; its parent (from the path id) must already exist."""
        if node.id in self._g:
            raise TreeError(f"duplicate node id {node.id!r}")
        if not (math.isfinite(node.start) and math.isfinite(node.end)):
            raise TreeError(f"node {node.id!r} has a non-finite span [{node.start}, {node.end}]")
        if node.end < node.start:
            raise TreeError(f"node {node.id!r} ends before it starts ({node.start} > {node.end})")
        pid = parent_id(node.id)
        if pid is not None and pid not in self._g:
            raise TreeError(f"node {node.id!r} has no parent {pid!r} in the tree")
        self._g.add_node(node.id, node=node)
        if pid is not None:
            self._g.add_edge(pid, node.id)
        return node

    def replace(self, node: Node) -> Node:
        """Swap in a new version of an existing node (e.g. once it is captioned)."""
        if node.id not in self._g:
            raise TreeError(f"no node {node.id!r}")
        self._g.nodes[node.id]["node"] = node
        return node

    def set_caption(self, node_id: str, caption: str, provenance: Provenance | None = None) -> Node:
        old = self.node(node_id)
        upd: dict[str, Any] = {"caption": caption}
        if provenance is not None:
            upd["provenance"] = provenance
        return self.replace(old.model_copy(update=upd))

    # -- queries ------------------------------------------------------------------
    def __contains__(self, node_id: object) -> bool:
        return node_id in self._g

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def node(self, node_id: str) -> Node:
        try:
            return self._g.nodes[node_id]["node"]  # type: ignore[no-any-return]
        except KeyError:
            raise TreeError(f"no node {node_id!r} in tree of {self.video_id!r}") from None

    @property
    def root(self) -> Node:
        return self.node(ROOT)

    def children(self, node_id: str) -> list[Node]:
        kids = [self.node(c) for c in self._g.successors(node_id)]
        return sorted(kids, key=lambda n: (n.start, n.id))

    def parent(self, node_id: str) -> Node | None:
        pid = parent_id(node_id)
        return None if pid is None else self.node(pid)

    def is_leaf(self, node_id: str) -> bool:
        return self._g.out_degree(node_id) == 0

    def nodes(self) -> Iterator[Node]:
        """All nodes, parents before children, siblings in time order."""
        stack = [ROOT] if ROOT in self._g else []
        while stack:
            nid = stack.pop()
            yield self.node(nid)
            stack.extend(reversed([c.id for c in self.children(nid)]))

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes() if self.is_leaf(n.id)]

    def level(self, level: int) -> list[Node]:
        return [n for n in self.nodes() if n.level == level]

    @property
    def depth(self) -> int:
        return max((n.level for n in self.nodes()), default=0)

    def leaves_under(self, node_id: str) -> list[Node]:
        if self.is_leaf(node_id):
            return [self.node(node_id)]
        out: list[Node] = []
        for c in self.children(node_id):
            out.extend(self.leaves_under(c.id))
        return out

    def lines_under(self, node_id: str) -> list[TimedText]:
        """Original timed lines under a node, in time order."""
        return [ln for leaf in self.leaves_under(node_id) for ln in leaf.lines]

    def ancestors(self, node_id: str) -> list[Node]:
        out = []
        pid = parent_id(node_id)
        while pid is not None:
            out.append(self.node(pid))
            pid = parent_id(pid)
        return out

    def validate(self) -> None:
        """Check spans nest and children tile their parent in order."""
        if ROOT not in self._g:
            raise TreeError("tree has no root")
        if self.root.level != 0:
            raise TreeError(f"root has level {self.root.level}, not 0")
        for n in self.nodes():
            for c in self.children(n.id):
                if c.start < n.start - 1e-6 or c.end > n.end + 1e-6:
                    raise TreeError(f"child {c.id} [{c.start},{c.end}] outside parent {n.id} [{n.start},{n.end}]")
                if c.level != n.level + 1:
                    raise TreeError(f"child {c.id} level {c.level} != parent level {n.level} + 1")
