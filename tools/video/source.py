"""A video's caption tree that captions what is missing when it is reached (``TreeSource``).

- **Every node is stored the moment it is captioned** (``Store.put_node``). A rerun after a
  SIGKILL loads the tree, sees which nodes have captions and captions only the others.
- **Lazy = the same code path, later.** :meth:`VideoTreeSource.ensure` captions nodes when
  the planner reaches them, stores them, and counts what that cost in ``SourceCost``.
- **Pipelined batches.** Nodes are captioned in batches through ``describe_many`` on a worker
  thread while the main thread decodes the next batch's frames, so decoding overlaps OCR/VLM
  time. Within a batch a node sees the previous sibling's caption only if it was known when the
  batch was submitted (a batching trade-off; ``captioner.batch_size: 1`` makes it exact).
- **Parents**: with ``video.frames_per_parent > 0`` a parent is described from representative
  frames (one from each of up to N leaves under it, at the same times the leaves were sampled,
  so the classic backend's OCR cache answers them) with its children's captions as context;
  with 0 it is the extractive summary of its children's captions plus its scene statistics.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from videonav.memory.builders import Summariser
from videonav.memory.config import TreeConfig
from videonav.memory.source import Inspection, SourceCost, TreeSource
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree, Node, Provenance, TimedText
from videonav.tools.captioners.base import (
    CaptionContext,
    Captioner,
    CaptionRequest,
    describe_many,
)
from videonav.tools.captioners.clip_qa import ask_clip, qa_frame_count
from videonav.tools.config import EmbedderConfig, VideoConfig
from videonav.tools.video.probe import Frames, VideoInfo
from videonav.tools.video.readers import VideoReader, uniform_times
from videonav.tools.video.shots import SceneScan, stats_sentence
from videonav.tools.video.subtitles import CueIndex, transcript

LAZY_LEAVES = 6
"""Leaves a lazy part's inspect captions: about one bottom-level part of a 1-hour tree (width 6)."""
LAZY_READS = 3
"""Of those, how many captions the inspect shows (fewer when the caller's budget is lower)."""
LAZY_NARROW = True
"""Show only the captions naming a rare question word (at least one), so a miss costs one read."""
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are at did do does in is of on or the to was were what which who with".split())


def _tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _words(text: str) -> set[str]:
    return set(_tokens(text))


def _pairs(text: str) -> set[tuple[str, str]]:
    t = _tokens(text)
    return set(zip(t, t[1:], strict=False))


def _idf(words: set[str], texts: Sequence[str]) -> dict[str, float]:
    """Rarer question words weigh more: 'deserts' and '6' over 'slide', which every caption says."""
    sets = [_words(t) for t in texts]
    return {w: math.log((1 + len(sets)) / (1 + sum(w in s for s in sets))) + 1e-3 for w in words}


def _match(query: str, text: str, idf: dict[str, float]) -> float:
    """Weight of the question's words in ``text``, twice over for adjacent pairs ('deserts 6', not '6 shots')."""
    have = _words(text)
    pairs = _pairs(text) & _pairs(query)
    return sum(idf.get(w, 0.0) for w in _words(query) if w in have) + sum(idf.get(a, 0.0) + idf.get(b, 0.0)
                                                                           for a, b in pairs)


Progress = Callable[[float, float, str], None]
"""``progress(done, total, stage)``; stages: ``scan`` (percent) and ``caption`` (nodes)."""


@dataclass
class IndexStats:
    """Where the time went. ``decode`` and ``wait`` (blocked on the captioner: OCR / VLM) are on the
    main thread's critical path; ``ocr`` and ``caption`` are measured inside the captioner and
    overlap decoding; ``other`` = wall - decode - wait (scan features, contexts, store writes)."""

    video_seconds: float = 0.0
    wall_seconds: float = 0.0
    scan_seconds: float = 0.0
    decode_seconds: float = 0.0
    ocr_seconds: float = 0.0
    caption_seconds: float = 0.0
    wait_seconds: float = 0.0
    frames_decoded: int = 0
    ocr_frames: int = 0
    nodes: int = 0
    leaves: int = 0
    depth: int = 0
    width: int = 0
    captioned_now: int = 0
    captioned_before: int = 0
    uncaptioned: int = 0
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["video_seconds_per_second"] = self.video_seconds / self.wall_seconds if self.wall_seconds else 0.0
        d["other_seconds"] = max(0.0, self.wall_seconds - self.decode_seconds - self.wait_seconds)
        return d


class VideoTreeSource(TreeSource):
    """A video's caption tree that captions missing nodes on demand (``TreeSource`` protocol)."""

    def __init__(self, *, info: VideoInfo, tree: CaptionTree, key: str, store: Store, captioner: Captioner,
                 reader: VideoReader, scan: SceneScan, cues: list[TimedText], video_cfg: VideoConfig,
                 tree_cfg: TreeConfig, embedder_cfg: EmbedderConfig, summarise: Summariser | None = None,
                 entities: Sequence[str] = (), batch_size: int = 8) -> None:
        self.info, self.tree, self.key, self.store = info, tree, key, store
        self.captioner, self.reader, self.scan = captioner, reader, scan
        self.cues = CueIndex(cues)
        self.video_cfg, self.tree_cfg, self.embedder_cfg = video_cfg, tree_cfg, embedder_cfg
        self.entities = tuple(entities)
        self.batch_size = max(1, batch_size)
        self.owns_store = False
        self.scan_decode: tuple[float, int] = (0.0, 0)  # (seconds, frames) of the one-off scan decoder
        self._summarise = summarise
        self.cost = SourceCost()
        self.stats = IndexStats(video_seconds=info.duration)
        self.reads: list[tuple[str, int | None, list[float]]] = []
        self._by_level: dict[int, list[str]] = {}
        for n in tree.nodes():
            self._by_level.setdefault(n.level, []).append(n.id)
        for ids in self._by_level.values():
            ids.sort(key=lambda i: (tree.node(i).start, i))

    # -- TreeSource ---------------------------------------------------------------------
    def ensure(self, node_ids: list[str]) -> list[Node]:
        missing = [i for i in node_ids if self.tree.node(i).caption is None]
        if missing:
            t0, d0 = time.perf_counter(), self.reader.decode_seconds
            built = self.build(missing)
            self.cost.captions_built += built
            self.cost.decode_seconds += self.reader.decode_seconds - d0
            self.cost.caption_seconds += time.perf_counter() - t0 - (self.reader.decode_seconds - d0)
        return [self.tree.node(i) for i in node_ids]

    def inspect(self, node_id: str, query: str, limit: int | None = None) -> Inspection:
        """Clip QA on the node's frames (cached per question), one read over its span; on a part whose
        leaves are not all captioned yet (a lazy tree), the likeliest leaves captioned now instead."""
        if not self.tree.is_leaf(node_id) and any(lf.caption is None for lf in self.tree.leaves_under(node_id)):
            return self._inspect_leaves(node_id, query, limit)
        node = self.tree.node(node_id)
        cap = self.captioner
        qkey = hashlib.sha256(query.encode()).hexdigest()[:16]
        ck = f"qa:{self.key}:{node_id}:{cap.name}:{cap.model_id}:{cap.prompt_version}:{qkey}"
        self.cost.inspect_calls += 1
        cached = self.store.cache_get(ck)
        if isinstance(cached, str):
            return Inspection(text=cached, reads=1)
        t0, d0 = time.perf_counter(), self.reader.decode_seconds
        lines = self.cues.overlapping(node.start, node.end)
        out = ask_clip(self.reader, cap, node, query, frames=qa_frame_count(self.video_cfg.frames_per_leaf),
                       width=self.video_cfg.max_width, transcript=transcript(lines) or None,
                       stats=self.scan.span_stats(node.start, node.end), entities=self.entities)
        self.cost.decode_seconds += self.reader.decode_seconds - d0
        self.cost.inspect_seconds += time.perf_counter() - t0
        self.store.cache_put(ck, out.text)
        return Inspection(text=out.text, reads=1)

    def _inspect_leaves(self, node_id: str, query: str, limit: int | None) -> Inspection:
        """A lazy part's close look: caption (``ensure``) the ``LAZY_LEAVES`` leaves under it whose
        known text (own caption or speech cues, plus the captions of the captioned parts between it
        and ``node_id``) shares the question's rarest words; show the best-matching of their captions.

        Why not clip QA: over a 12-minute part it sees a handful of frames, so a slide shown for
        20 s is usually missed; the parts' captions already name what the leaves under them show."""
        self.cost.inspect_calls += 1
        t0 = time.perf_counter()
        leaves = self.tree.leaves_under(node_id)
        words = _words(query)

        def hint(lf: Node) -> tuple[str, str]:
            own = lf.caption or " ".join([transcript(self.cues.overlapping(lf.start, lf.end)) or "",
                                          *self.scan.span_stats(lf.start, lf.end)["colours"]])
            above, nid = [], self.tree.parent(lf.id)
            while nid is not None and nid.id != node_id:
                above.append(nid.caption or "")
                nid = self.tree.parent(nid.id)
            return own, " ".join(above)

        hints = [hint(lf) for lf in leaves]
        idf = _idf(words, [h[0] + " " + h[1] for h in hints])
        own = [_match(query, h[0], idf) for h in hints]
        above = [_match(query, h[1], idf) for h in hints]
        rank = sorted(range(len(leaves)), key=lambda i: (-own[i] - above[i], -above[i], leaves[i].start))
        picked = sorted((leaves[i].id for i in rank[:LAZY_LEAVES]), key=lambda i: self.tree.node(i).start)
        got = self.ensure(picked)
        seen = [_words(h[0] + " " + h[1]) for h in hints]
        rare = {w for w in words if 2 * sum(w in s for s in seen) <= len(seen)}  # in at most half the leaves
        idf = _idf(words, [n.caption or "" for n in got])
        show = max(1, min(limit or LAZY_READS, LAZY_READS))
        best = sorted(got, key=lambda n: (-_match(query, n.caption or "", idf), n.start))[:show]
        if LAZY_NARROW:  # none names a rare question word: one read, the budget kept for another part
            best = [n for n in best if rare & _words(n.caption or "") or _pairs(n.caption or "") & _pairs(query)
                    ] or best[:1]
        lines = [TimedText(start=n.start, end=n.end, text=n.caption or "") for n in sorted(best, key=lambda n: n.start)]
        self.cost.inspect_seconds += time.perf_counter() - t0
        return Inspection(lines=lines, reads=len(lines))

    # -- building -----------------------------------------------------------------------
    def eager_ids(self, lazy: bool) -> list[str]:
        depth = self.tree.depth
        top = depth if not lazy else min(depth, self.tree_cfg.eager_levels)
        return [i for lv in range(top + 1) for i in self._by_level.get(lv, [])]

    def _leaf_times(self, node: Node) -> list[float]:
        return uniform_times(node.start, node.end, self.video_cfg.frames_per_leaf)

    def _frame_times(self, node: Node) -> list[float]:
        if self.tree.is_leaf(node.id):
            return self._leaf_times(node)
        n = self.video_cfg.frames_per_parent or self.video_cfg.frames_per_leaf
        leaves = self.tree.leaves_under(node.id)
        if len(leaves) <= n:  # one representative per leaf, at a time its own sampling used
            return [self._leaf_times(lf)[len(self._leaf_times(lf)) // 2] for lf in leaves]
        pick = [leaves[int((k + 0.5) * len(leaves) / n)] for k in range(n)]
        return [self._leaf_times(lf)[len(self._leaf_times(lf)) // 2] for lf in pick]

    def _needs_frames(self, node: Node) -> bool:
        if self.tree.is_leaf(node.id) or self.video_cfg.frames_per_parent > 0:
            return True
        return any(c.caption is None for c in self.tree.children(node.id))

    def _summary(self, node: Node) -> str:
        if self._summarise is None:
            from videonav.tools.embed import ExtractiveSummariser, make_embedder

            embedder = make_embedder(self.embedder_cfg)
            self._summarise = ExtractiveSummariser(embedder, self.tree_cfg.summary_sentences)
        kids = [c.caption for c in self.tree.children(node.id) if c.caption]
        text = self._summarise(kids) if kids else ""
        return (text + " " + stats_sentence(self.scan.span_stats(node.start, node.end))).strip()

    def _context(self, node: Node) -> CaptionContext:
        ids = self._by_level[node.level]
        pos = ids.index(node.id)
        prev = self.tree.node(ids[pos - 1]).caption if pos > 0 else None
        parent = self.tree.parent(node.id)
        is_leaf = self.tree.is_leaf(node.id)
        kids = () if is_leaf else tuple(c.caption for c in self.tree.children(node.id) if c.caption)
        tr = transcript(self.cues.overlapping(node.start, node.end)) if is_leaf else None
        return CaptionContext(span=(node.start, node.end), previous_caption=prev,
                              parent_caption=parent.caption if parent else None, entities=self.entities,
                              transcript=tr or None, child_captions=kids,
                              scene_stats=self.scan.span_stats(node.start, node.end))

    def _decode(self, nodes: list[Node]) -> list[Frames]:
        """Frames for a batch, read in one time-sorted call (one forward sweep of the file)."""
        times = [self._frame_times(n) for n in nodes]
        flat = [t for ts in times for t in ts]
        fr = self.reader.read(flat, self.video_cfg.max_width)
        self.reads.append(("caption", self.video_cfg.max_width, flat))
        out, k = [], 0
        for ts in times:
            imgs, stamps = fr.images[k : k + len(ts)], fr.timestamps[k : k + len(ts)]
            keep = [i for i in range(len(ts)) if i == 0 or stamps[i] != stamps[i - 1]]
            out.append(Frames([imgs[i] for i in keep], [stamps[i] for i in keep]))
            k += len(ts)
        return out

    def _store(self, node: Node, caption: str, provenance: Any) -> None:
        new = self.tree.replace(node.model_copy(update={"caption": caption, "provenance": provenance}))
        self.store.put_node(self.key, new)

    def build(self, node_ids: Sequence[str], progress: Progress | None = None) -> int:
        """Caption the given nodes that lack a caption, deepest first; returns how many were built."""
        todo = sorted({i for i in node_ids if self.tree.node(i).caption is None},
                      key=lambda i: (-self.tree.node(i).level, self.tree.node(i).start, i))
        total, done = len(todo), 0
        bs = self.batch_size
        ocr0 = float(getattr(self.captioner, "ocr_seconds", 0.0))
        ocr_n0 = int(getattr(self.captioner, "ocr_frames", 0))
        batches: list[list[Node]] = []
        for i in todo:
            n = self.tree.node(i)
            if batches and len(batches[-1]) < bs and batches[-1][0].level == n.level:
                batches[-1].append(n)
            else:
                batches.append([n])
        inflight: tuple[list[Node], Future[Any]] | None = None
        t_cap = t_wait = 0.0
        def settle() -> None:  # store the results of the batch in flight
            nonlocal inflight, t_wait, t_cap, done
            if inflight is None:
                return
            t0 = time.perf_counter()
            nodes, fut = inflight
            caps = fut.result()
            t_wait += time.perf_counter() - t0
            for n, cap in zip(nodes, caps, strict=True):
                self._store(self.tree.node(n.id), cap.text, cap.provenance)
                t_cap += cap.seconds
            done += len(nodes)
            inflight = None
            if progress:
                progress(done, total, "caption")

        with ThreadPoolExecutor(1, thread_name_prefix="caption") as pool:
            for batch in [*batches, None]:
                if inflight is not None and (batch is None or batch[0].level != inflight[0][0].level):
                    settle()  # a new level: its nodes' children must be stored before they are planned
                framed = [n for n in batch or [] if self._needs_frames(n)]
                frames = self._decode(framed) if framed else []  # overlaps the batch in flight
                settle()
                if batch is None:
                    break
                for n in batch:  # summary-mode parents: no frames, no captioner call
                    if not self._needs_frames(n):
                        prov = Provenance(backend=f"{self.captioner.name}+extractive",
                                          model=self.captioner.model_id,
                                          prompt_version=self.captioner.prompt_version)
                        self._store(n, self._summary(self.tree.node(n.id)), prov)
                        done += 1
                if framed:
                    reqs = [CaptionRequest(frames=tuple(f.images), timestamps=tuple(f.timestamps), prompt="",
                                           context=self._context(self.tree.node(n.id))) for n, f in zip(
                                               framed, frames, strict=True)]
                    inflight = (framed, pool.submit(describe_many, self.captioner, reqs))
                elif progress:
                    progress(done, total, "caption")
        self.stats.captioned_now += total
        self.stats.ocr_seconds += float(getattr(self.captioner, "ocr_seconds", 0.0)) - ocr0
        self.stats.ocr_frames += int(getattr(self.captioner, "ocr_frames", 0)) - ocr_n0
        self.stats.caption_seconds += t_cap
        self.stats.wait_seconds += t_wait
        return total

    @property
    def tree_key(self) -> str:
        return self.key

    def close(self) -> None:
        self.reader.close()
        close = getattr(self.captioner, "close", None)
        if callable(close):
            close()
        if self.owns_store:
            self.store.close()
