"""Build caption trees: a skeleton from leaf spans, captions bottom-up from a summariser.

Shape follows LongVideo-R1: width = clamp(round((duration / leaf) ** (1/3)), 3, 8), so
a 3-minute video of 1-s leaves gets width 6 and depth 3, and an hour of 20-s leaves gets
width 6 and depth 3 as well: the planner always faces a handful of choices per level.
The partition is by leaf count (balanced), not by time, so every subtree of the same level
has about the same number of leaves whatever the shot lengths are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from videonav.memory.tree import ROOT, CaptionTree, Node, Provenance, TimedText, TreeError, child_id

Summariser = Callable[[list[str]], str]
"""Turns the captions of a node's children (in time order) into the node's caption."""


def default_width(duration: float, leaf_seconds: float) -> int:
    """Branching factor from the video's length.

    >>> default_width(180, 1), default_width(3600, 20), default_width(30, 10), default_width(10**6, 1)
    (6, 6, 3, 8)
    """
    if duration <= 0 or leaf_seconds <= 0:
        return 3
    return max(3, min(8, round((duration / leaf_seconds) ** (1 / 3))))


def group_lines(lines: Sequence[TimedText], leaf_seconds: float) -> list[list[TimedText]]:
    """Consecutive lines grouped into windows of ``leaf_seconds`` (by start time).

    >>> ls = [TimedText(start=t, end=t + 1, text=str(t)) for t in range(5)]
    >>> [[x.text for x in g] for g in group_lines(ls, 2)]
    [['0', '1'], ['2', '3'], ['4']]
    """
    groups: list[list[TimedText]] = []
    for ln in sorted(lines, key=lambda x: x.start):
        if groups and ln.start < groups[-1][0].start + leaf_seconds - 1e-9:
            groups[-1].append(ln)
        else:
            groups.append([ln])
    return groups


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous near-equal [lo, hi) ranges; earlier parts get the extra items."""
    q, r = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + q + (1 if i < r else 0)
        if hi > lo:
            out.append((lo, hi))
        lo = hi
    return out


def skeleton(
    video_id: str,
    leaf_spans: Sequence[tuple[float, float]],
    width: int,
    duration: float | None = None,
    meta: dict | None = None,
) -> tuple[CaptionTree, list[str]]:
    """An uncaptioned tree over ``leaf_spans``; returns it and the leaf ids in time order."""
    if not leaf_spans:
        raise TreeError(f"cannot build a tree for {video_id!r}: no leaf spans")
    if width < 2:
        raise TreeError(f"width must be >= 2, got {width}")
    spans = sorted((float(s), float(e)) for s, e in leaf_spans)
    end = max(duration or 0.0, spans[-1][1])
    tree = CaptionTree(video_id, end, meta)
    leaf_ids: list[str] = []
    n = len(spans)
    depth = max(1, math.ceil(math.log(n, width))) if n > 1 else 1

    def grow(nid: str, lo: int, hi: int, level: int) -> None:
        count = hi - lo
        start = 0.0 if nid == ROOT else spans[lo][0]
        stop = end if nid == ROOT else spans[hi - 1][1]
        tree.add(Node(id=nid, start=start, end=stop, level=level))
        if count == 1 and nid != ROOT:
            leaf_ids.append(nid)
            return
        remaining = depth - level
        parts = min(width, count) if remaining <= 1 else min(width, math.ceil(count / width ** (remaining - 1)))
        parts = max(parts, min(2, count)) if count > 1 else 1
        for i, (a, b) in enumerate(_split(count, parts), start=1):
            grow(child_id(nid, i), lo + a, lo + b, level + 1)

    grow(ROOT, 0, n, 0)
    return tree, leaf_ids


def caption_bottom_up(tree: CaptionTree, summarise: Summariser, provenance: Provenance | None = None) -> None:
    """Fill every missing internal caption from its children's captions, deepest first."""
    for node in sorted(tree.nodes(), key=lambda n: -n.level):
        if node.caption is not None or tree.is_leaf(node.id):
            continue
        texts = [c.caption for c in tree.children(node.id) if c.caption]
        tree.set_caption(node.id, summarise(texts) if texts else "", provenance)


def build_from_timed_text(
    video_id: str,
    lines: Sequence[TimedText],
    summarise: Summariser,
    *,
    leaf_seconds: float = 1.0,
    width: int | None = None,
    duration: float | None = None,
    provenance: Provenance | None = None,
) -> CaptionTree:
    """A fully captioned tree from timed captions (e.g. NExT-QA's 1-fps captions).

    Each leaf holds the lines of one ``leaf_seconds`` window; a one-line leaf's caption is
    the line itself, a longer one's is ``summarise(lines)``.
    """
    if not lines:
        raise TreeError(f"no timed captions for {video_id!r}")
    groups = group_lines(lines, leaf_seconds)
    spans = [(g[0].start, max(x.end for x in g)) for g in groups]
    dur = duration if duration is not None else max(e for _, e in spans)
    w = width or default_width(dur, max(leaf_seconds, 1e-6))
    prov = provenance or Provenance(backend="import")
    tree, leaf_ids = skeleton(video_id, spans, w, dur, {"leaf_seconds": leaf_seconds, "width": w})
    for lid, group in zip(leaf_ids, groups, strict=True):
        texts = [g.text for g in group]
        cap = texts[0] if len(texts) == 1 else summarise(texts)
        tree.replace(tree.node(lid).model_copy(update={"caption": cap, "lines": tuple(group), "provenance": prov}))
    caption_bottom_up(tree, summarise, prov)
    return tree
