"""Video -> caption tree: probe, scan, shot-aware leaves, skeleton, captions; resumable and lazy.

Why it is shaped this way:
- **One scan, then sparse reads.** :func:`videonav.tools.shots.scan_video` decodes 1-fps
  thumbnails once (cuts + per-second statistics); captioning then reads only the few frames
  each node needs, through the video's one reader.
- **Every node is stored the moment it is captioned** (``Store.put_node``), and the skeleton
  (all spans, no captions) is stored in one transaction before any captioning. A rerun after a
  SIGKILL loads the tree, sees which nodes have captions and captions only the others.
- **Lazy = the same code path, later.** ``index_video(lazy=True)`` captions the root and
  ``tree.eager_levels`` levels; :meth:`VideoTreeSource.ensure` captions the rest when the
  planner reaches them, stores them, and counts what that cost in ``SourceCost``.
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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonav.memory.builders import Summariser, default_width, skeleton
from videonav.memory.config import TreeConfig
from videonav.memory.source import SourceCost
from videonav.memory.store import Store, file_hash, tree_key
from videonav.memory.tree import CaptionTree, Node, Provenance, TimedText
from videonav.tools.captioner import (
    CaptionContext,
    Captioner,
    CaptionRequest,
    describe_many,
    make_captioner,
)
from videonav.tools.clip_qa import ask_clip, qa_frame_count
from videonav.tools.config import CaptionerConfig, EmbedderConfig, VideoConfig
from videonav.tools.shots import THUMB_WIDTH, SceneScan, scan_video, segment_leaves, stats_sentence
from videonav.tools.subtitles import CueIndex, load_subtitles, transcript
from videonav.tools.video import Frames, VideoInfo, probe
from videonav.tools.video_readers import PyAVReader, VideoReader, open_reader, uniform_times

INDEX_VERSION = "idx1"
"""Bump when the tree-building logic (segmentation, parent rendering) changes: part of the tree key."""

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


@dataclass
class IndexResult:
    tree_key: str
    tree: CaptionTree
    stats: IndexStats
    reads: list[tuple[str, int | None, list[float]]] = field(default_factory=list)
    """(purpose, width, timestamps) of every frame read, for the decoding-floor benchmark."""


class VideoTreeSource:
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

    def inspect(self, node_id: str, query: str) -> str:
        node = self.tree.node(node_id)
        cap = self.captioner
        qkey = hashlib.sha256(query.encode()).hexdigest()[:16]
        ck = f"qa:{self.key}:{node_id}:{cap.name}:{cap.model_id}:{cap.prompt_version}:{qkey}"
        self.cost.inspect_calls += 1
        cached = self.store.cache_get(ck)
        if isinstance(cached, str):
            return cached
        t0, d0 = time.perf_counter(), self.reader.decode_seconds
        lines = self.cues.overlapping(node.start, node.end)
        out = ask_clip(self.reader, cap, node, query, frames=qa_frame_count(self.video_cfg.frames_per_leaf),
                       width=self.video_cfg.max_width, transcript=transcript(lines) or None,
                       stats=self.scan.span_stats(node.start, node.end), entities=self.entities)
        self.cost.decode_seconds += self.reader.decode_seconds - d0
        self.cost.inspect_seconds += time.perf_counter() - t0
        self.store.cache_put(ck, out.text)
        return out.text

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
            if self.tree_cfg.summariser != "extractive":
                raise ValueError("tree.summariser='llm' needs a summarise= callable from the planner; "
                                 "use tree.summariser: extractive or video.frames_per_parent > 0")
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


def _batch_size(cap: Captioner, cfg: CaptionerConfig | None) -> int:
    """``captioner.batch_size``; at least 32 for backends whose output ignores the previous caption
    (classic: bigger batches amortise tesseract's start-up over more frames)."""
    bs = (cfg or CaptionerConfig()).batch_size
    return max(bs, 32) if getattr(cap, "context_free", False) else bs


def _settings(info_hash: str, video: VideoConfig, tree: TreeConfig, cap: Captioner, emb: EmbedderConfig,
              cues: list[TimedText], entities: Sequence[str]) -> str:
    subs = hashlib.sha256("\n".join(f"{c.start}|{c.end}|{c.text}" for c in cues).encode()).hexdigest()[:12]
    return tree_key(info_hash, index=INDEX_VERSION, leaf=[tree.leaf_min_seconds, tree.leaf_max_seconds],
                    width=tree.width, scan_fps=video.scan_fps, shot_threshold=video.shot_threshold,
                    frames_per_leaf=video.frames_per_leaf, frames_per_parent=video.frames_per_parent,
                    max_width=video.max_width, captioner=cap.name, model=cap.model_id,
                    prompt=cap.prompt_version,
                    summariser=tree.summariser, sentences=tree.summary_sentences, embedder=emb.model,
                    subtitles=subs, entities=sorted(entities))


def open_source(path: Path | str, cfg: Any | None = None, store: Store | None = None, *,
                lazy: bool | None = None, video: VideoConfig | None = None, tree: TreeConfig | None = None,
                captioner: CaptionerConfig | None = None, embedder: EmbedderConfig | None = None,
                subtitles: Path | str | None = None, entities: Sequence[str] = (),
                captioner_impl: Captioner | None = None, summarise: Summariser | None = None,
                progress: Progress | None = None) -> VideoTreeSource:
    """The video's tree as a ``TreeSource``: probe, load the stored tree or scan and store a skeleton.

    ``cfg`` is a ``RunConfig`` (anything with ``video``/``tree``/``captioner``/``embedder``/``store``
    sections); explicit section arguments win over it. ``store=None`` opens ``cfg.store.path``
    (closed by :meth:`VideoTreeSource.close`). ``lazy``: ``None`` captions nothing now, ``True``
    captions the root and ``tree.eager_levels`` levels (what ``videonav ask`` needs to start),
    ``False`` captions every node. Raises a ``VideoError`` (missing / empty / truncated / corrupt /
    audio-only file, broken subtitles) before anything is written to the store.
    """
    if cfg is not None:
        video, tree = video or cfg.video, tree or cfg.tree
        captioner, embedder = captioner or cfg.captioner, embedder or cfg.embedder
    owned = store is None
    if store is None:
        probe(path)  # fail before creating a store file
        store = Store(cfg.store.path if cfg is not None else None)
    try:
        src = _open(path, store, video or VideoConfig(), tree or TreeConfig(), captioner,
                    embedder or EmbedderConfig(), subtitles, entities, captioner_impl, summarise, progress)
    except BaseException:
        if owned:
            store.close()
        raise
    src.owns_store = owned
    if lazy is not None:
        src.build(src.eager_ids(lazy), progress)
    return src


def _open(path: Path | str, store: Store, vcfg: VideoConfig, tcfg: TreeConfig,
          captioner: CaptionerConfig | None, ecfg: EmbedderConfig, subtitles: Path | str | None,
          entities: Sequence[str], captioner_impl: Captioner | None, summarise: Summariser | None,
          progress: Progress | None) -> VideoTreeSource:
    info = probe(path)
    cues, sub_src = load_subtitles(path, info, subtitles)
    cap = captioner_impl or make_captioner(captioner or CaptionerConfig())
    vhash = file_hash(path)
    key = _settings(vhash, vcfg, tcfg, cap, ecfg, cues, entities)
    reader = open_reader(info, vcfg)
    scan_key = f"scan:{key}"
    t0 = time.perf_counter()
    resumed = store.has_tree(key)
    raw = store.cache_get(scan_key) if resumed else None
    scan_decode: tuple[float, int] = (0.0, 0)
    if raw is not None:
        scan = SceneScan.from_dict(raw)
    else:
        on_scan = (lambda f: progress(100 * f, 100, "scan")) if progress else None
        # the one-off scan gets its own fast decoder (thumbnails only); frames for captions do not
        scanner = PyAVReader(info, fast=True) if vcfg.reader != "decord" else reader
        scan = scan_video(scanner, info, vcfg, on_scan)
        scan_decode = (scanner.decode_seconds, scanner.frames_decoded) if scanner is not reader else (0.0, 0)
        if scanner is not reader:
            scanner.close()
    if resumed:
        ctree = store.load_tree(key)
        if raw is None:
            store.cache_put(scan_key, scan.to_dict())
    else:
        spans = segment_leaves(scan.cuts, info.duration, tcfg.leaf_min_seconds, tcfg.leaf_max_seconds)
        mean_leaf = info.duration / max(1, len(spans))
        width = tcfg.width or default_width(info.duration, mean_leaf)
        meta = {"source": str(path), "video_hash": vhash, "subtitles": sub_src, "width": width,
                "leaf_seconds": [tcfg.leaf_min_seconds, tcfg.leaf_max_seconds], "captioner": cap.name,
                "model": cap.model_id, "prompt_version": cap.prompt_version, "index_version": INDEX_VERSION,
                "shots": len(scan.cuts) + 1}
        ctree, leaf_ids = skeleton(Path(path).stem, spans, width, info.duration, meta)
        ix = CueIndex(cues)
        for lid in leaf_ids:
            n = ctree.node(lid)
            lines = ix.overlapping(n.start, n.end)
            upd = {"lines": tuple(lines), "transcript": transcript(lines) or None}
            ctree.replace(n.model_copy(update=upd))
        store.put_video(ctree.video_id, str(Path(path).resolve()), vhash, info.duration, info.model_dump())
        store.cache_put(scan_key, scan.to_dict())
        store.save_tree(key, ctree)  # the skeleton, in one transaction: from here on a rerun resumes
    src = VideoTreeSource(info=info, tree=ctree, key=key, store=store, captioner=cap, reader=reader,
                          scan=scan,
                          cues=cues, video_cfg=vcfg, tree_cfg=tcfg, embedder_cfg=ecfg, summarise=summarise,
                          entities=entities, batch_size=_batch_size(cap, captioner))
    src.stats.scan_seconds = time.perf_counter() - t0
    src.scan_decode = scan_decode
    src.stats.resumed = resumed
    if raw is None:
        src.reads.append(("scan", THUMB_WIDTH, [float(t) for t in scan.times]))
    return src


def index_video(path: Path | str, *, store: Store, video: VideoConfig | None = None,
                tree: TreeConfig | None = None,
                captioner: CaptionerConfig | None = None, embedder: EmbedderConfig | None = None,
                lazy: bool | None = None, subtitles: Path | str | None = None, entities: Sequence[str] = (),
                captioner_impl: Captioner | None = None, summarise: Summariser | None = None,
                progress: Progress | None = None) -> IndexResult:
    """Build (or finish) the caption tree of ``path`` in ``store``; ``lazy`` defaults to ``tree.lazy``."""
    t0 = time.perf_counter()
    tcfg = tree or TreeConfig()
    src = open_source(path, store=store, video=video, tree=tcfg, captioner=captioner, embedder=embedder,
                      subtitles=subtitles, entities=entities, captioner_impl=captioner_impl,
                      summarise=summarise, progress=progress)
    try:
        ids = src.eager_ids(tcfg.lazy if lazy is None else lazy)
        before = sum(1 for i in ids if src.tree.node(i).caption is not None)
        src.build(ids, progress)
        st = src.stats
        st.captioned_before = before
        st.wall_seconds = time.perf_counter() - t0
        st.decode_seconds = src.reader.decode_seconds + src.scan_decode[0]
        st.frames_decoded = src.reader.frames_decoded + src.scan_decode[1]
        st.nodes, st.leaves, st.depth = len(src.tree), len(src.tree.leaves()), src.tree.depth
        st.width = int(src.tree.meta.get("width", 0))
        st.uncaptioned = sum(1 for n in src.tree.nodes() if n.caption is None)
        return IndexResult(src.key, src.tree, st, src.reads)
    finally:
        src.close()
