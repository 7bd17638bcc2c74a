"""Executing one action against a tree source and rendering what it returns.

:meth:`videonav.agent.episode.Episode.apply` calls :func:`observe` for every policy (planner,
SFT teachers, GRPO environment) once the episode has judged the action legal; it returns a
string for the model, the list of :class:`Read` items it put in front of the model (each one
caption read, with its span: the basis of cost and grounding metrics), and an error flag for
structurally wrong actions, which become corrective observations instead of exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from videonav.agent.actions import Action
from videonav.agent.prompts import clock, node_line, quote
from videonav.agent.result import Span
from videonav.agent.scorer_features import has_phrase, tokens
from videonav.memory.source import TreeSource
from videonav.memory.tree import CaptionTree, Node, TreeError
from videonav.tools.embed import Embedder

if TYPE_CHECKING:
    from videonav.agent.config import RunConfig
    from videonav.agent.episode import Episode


@dataclass(frozen=True)
class Read:
    """One caption text shown to the planner."""

    text: str
    start: float
    end: float
    node_id: str | None = None
    kind: str = "line"  # "summary" (a part's caption), "clip" (a leaf's caption), "line" (verbatim), "answer"

    def span(self, with_text: bool = False) -> Span:
        return Span(node_id=self.node_id, start=self.start, end=self.end, kind=self.kind,
                    text=self.text if with_text else None)


def search_items(tree: CaptionTree) -> list[Read]:
    """Everything searchable that exists now: original leaf lines, else captions of captioned leaves."""
    items: list[Read] = []
    for leaf in tree.leaves():
        if leaf.lines:
            items.extend(Read(ln.text, ln.start, ln.end, leaf.id) for ln in leaf.lines)
        elif leaf.caption:
            items.append(Read(leaf.caption, leaf.start, leaf.end, leaf.id, "clip"))
        if leaf.transcript:
            items.append(Read(leaf.transcript, leaf.start, leaf.end, leaf.id))
    return items


def top_k(items: list[Read], query: str, k: int, embedder: Embedder) -> list[Read]:
    """The k items most similar to the query, in time order."""
    if not items:
        return []
    sims = embedder.encode([it.text for it in items]) @ embedder.encode([query])[0]
    keep = sorted(np.argsort(-sims)[:k].tolist(), key=lambda i: (items[i].start, i))
    return [items[i] for i in keep]


def node_read(tree: CaptionTree, node: Node) -> Read:
    """A node's caption as a read: a 'clip' for leaves, a 'summary' for parts."""
    return Read(node.caption or "", node.start, node.end, node.id, "clip" if tree.is_leaf(node.id) else "summary")


def render_reads(reads: list[Read]) -> str:
    return "\n".join(f"[{r.node_id}] {clock(r.start)}-{clock(r.end)}: {quote(r.text)}" for r in reads)


def observe(act: Action, ep: Episode, source: TreeSource, cfg: RunConfig,
            embedder: Embedder) -> tuple[str, list[Read], bool]:
    """Run ``act`` (not ``answer``); returns (observation, reads, is_error)."""
    tree = source.tree
    if act.name == "search":
        q = (act.query or "").strip()
        ep.searched.add(ep.question if q == ep.query else q)
        from videonav.tools.search import source_search  # store-backed trees: the hybrid search of `videonav search`

        found = source_search(source, q, cfg.planner.search_k, embedder)
        hits = top_k(search_items(tree), q, cfg.planner.search_k, embedder) if found is None else [
            Read(h.text, h.start, h.end, h.node_id, "clip" if h.field == "caption" else "line") for h in found]
        if not hits:
            return f"No captions match {quote(q, 200)}.", [], False
        return f"Best matches for {quote(q, 200)}:\n{render_reads(hits)}", hits, False
    nid = act.node_id or ""
    if nid not in tree:
        return (f"Invalid action: there is no node {quote(nid, 40)}. Visible nodes: {', '.join(ep.visible[:20])}.",
                [], True)
    if act.name == "expand":
        if tree.is_leaf(nid):
            return (f"Invalid action: [{nid}] is a clip with no children; inspect it instead.", [], True)
        if nid in ep.expanded:
            return f"Invalid action: [{nid}] is already expanded; its children are above.", [], True
        try:
            kids = source.ensure([c.id for c in tree.children(nid)])
        except TreeError as e:
            return f"Invalid action: {e}", [], True
        ep.expanded.add(nid)
        for k in kids:
            if k.id not in ep.visible:
                ep.visible.append(k.id)
        lines = "\n".join(node_line(k, tree.is_leaf(k.id)) for k in kids)
        return f"Children of [{nid}]:\n{lines}", [node_read(tree, k) for k in kids], False
    # inspect
    if nid in ep.inspected:
        return f"Invalid action: [{nid}] was already inspected; its answer is above.", [], True
    ep.inspected.add(nid)
    node = tree.node(nid)
    left = cfg.budget.max_captions - ep.cost.captions_read
    at = _at_time(ep, source, nid, max(1, left))
    if at is not None:
        return at
    res = source.inspect(nid, act.query or ep.question, limit=max(1, left))  # text: fewer lines to fit the budget
    if res.lines:
        reads = [Read(ln.text, ln.start, ln.end, nid) for ln in res.lines]
        return f"Inside [{nid}] for {quote(act.query or ep.question, 200)}:\n{render_reads(reads)}", reads, False
    text = res.text
    read = Read(text, node.start, node.end, nid, "answer")
    return (f"[{nid}] {clock(node.start)}-{clock(node.end)} answer to {quote(act.query or ep.question, 200)}: "
            f"{quote(text)}", [read], False)


def cite(reads: list[Read], question: str, answer: str, embedder: Embedder, top: int = 2,
         slack: float = 0.05) -> list[Span]:
    """The reads that best support the answer (similarity to question + answer), among the reads
    that state the answer word for word when any does.

    Among reads within ``slack`` of the best similarity the *shortest* spans win: a clip
    line and the summary of its 30-s parent often say the same thing, and citing the clip
    keeps the evidence tight (NExT-GQA's IoP)."""
    reads = [r for r in reads if r.text]
    if not reads:
        return []
    # an answer stated word for word ("8639") is cited where it is stated, not where similar words are
    said = tokens(answer)
    stating = [r for r in reads if said and has_phrase(tokens(r.text), said)]
    reads = stating or reads
    q = embedder.encode([f"{question} {answer}"])[0]
    sims = embedder.encode([r.text for r in reads]) @ q
    best = float(sims.max())
    close = [i for i in range(len(reads)) if sims[i] >= best - slack]
    close.sort(key=lambda i: (reads[i].end - reads[i].start, -sims[i]))
    return [reads[i].span(with_text=True) for i in close[:top]]


def _at_time(ep: Episode, source: TreeSource, nid: str, limit: int) -> tuple[str, list[Read], bool] | None:
    """Inspect for a question that names a time ("What is shown at 20:25?"): the clips of the node
    at that time (captioned now if the tree is lazy), nearest first, instead of lines chosen by
    word similarity, which no time stamp has. None when the question names no time in the node."""
    from videonav.agent.time_anchor import edge_of, overlap, point, tree_window

    tree = source.tree
    win = tree_window(ep.question, tree)
    node = tree.node(nid)
    if win is None or tree.is_leaf(nid) or overlap((node.start, node.end), win) <= 0:
        return None
    edge, at = edge_of(ep.question), point(ep.question)
    mid = at if at is not None else win[1] if edge == "end" else win[0] if edge in ("beginning", "start") \
        else (win[0] + win[1]) / 2
    near = sorted((n for n in tree.leaves_under(nid) if n.end > win[0] and n.start < win[1]),
                  key=lambda n: abs((n.start + n.end) / 2 - mid))[:limit]
    if not near:
        return None
    try:
        kids = source.ensure(sorted((n.id for n in near), key=lambda i: tree.node(i).start))
    except TreeError:
        return None
    reads = [node_read(tree, k) for k in kids]
    return f"Inside [{nid}] at {clock(win[0])}-{clock(win[1])}:\n{render_reads(reads)}", reads, False
