"""Video -> caption tree: probe, scan, shot-aware leaves, skeleton, captions; resumable and lazy.

- **One scan, then sparse reads.** :func:`videonav.tools.video.shots.scan_video` decodes 1-fps
  thumbnails once (cuts + per-second statistics); captioning then reads only the few frames
  each node needs, through the video's one reader.
- **The skeleton first.** All spans (no captions) are stored in one transaction before any
  captioning; :class:`videonav.tools.video.source.VideoTreeSource` then captions and stores
  node by node, so an interrupted index resumes where it stopped.
- **Lazy** ``index_video(lazy=True)`` captions the root and ``tree.eager_levels`` levels; the
  rest is captioned when the planner reaches it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonav.memory.builders import Summariser, default_width, skeleton
from videonav.memory.config import TreeConfig
from videonav.memory.store import Store, file_hash, tree_key
from videonav.memory.tree import CaptionTree, TimedText
from videonav.tools.captioners.base import Captioner, make_captioner
from videonav.tools.config import AsrConfig, CaptionerConfig, EmbedderConfig, VideoConfig
from videonav.tools.video.locks import video_lock
from videonav.tools.video.probe import probe
from videonav.tools.video.readers import PyAVReader, open_reader
from videonav.tools.video.shots import THUMB_WIDTH, SceneScan, scan_video, segment_leaves
from videonav.tools.video.source import IndexStats, Progress, VideoTreeSource
from videonav.tools.video.subtitles import CueIndex, load_subtitles_cached, transcript

INDEX_VERSION = "idx1"
"""Bump when the tree-building logic (segmentation, parent rendering) changes: part of the tree key."""


@dataclass
class IndexResult:
    tree_key: str
    tree: CaptionTree
    stats: IndexStats
    reads: list[tuple[str, int | None, list[float]]] = field(default_factory=list)
    """(purpose, width, timestamps) of every frame read, for the decoding-floor benchmark."""


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
                progress: Progress | None = None, asr: AsrConfig | None = None) -> VideoTreeSource:
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
        asr = asr or getattr(cfg, "asr", None)
    owned = store is None
    if store is None:
        probe(path)  # fail before creating a store file
        store = Store(cfg.store.path if cfg is not None else None)
    try:
        src = _open(path, store, video or VideoConfig(), tree or TreeConfig(), captioner,
                    embedder or EmbedderConfig(), subtitles, entities, captioner_impl, summarise, progress,
                    asr or AsrConfig())
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
          progress: Progress | None, asr: AsrConfig | None = None) -> VideoTreeSource:
    info = probe(path)
    cues, sub_src = load_subtitles_cached(path, info, subtitles, store.cache_get, store.cache_put)
    cap = captioner_impl or make_captioner(captioner or CaptionerConfig())
    vhash = file_hash(path)
    if not cues and asr is not None:  # no subtitles: the audio track's speech (cached per chunk in the store)
        from videonav.tools.speech.cues import speech_cues

        cues, sub_src = speech_cues(path, info, asr, store, vhash, progress)
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
        # captions must come from the scan exactly as a resumed run reloads it (rounded JSON): ties
        # between colour shares broke differently in memory and made the resumed root caption differ
        scan = SceneScan.from_dict(scan.to_dict())
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
                progress: Progress | None = None, asr: AsrConfig | None = None) -> IndexResult:
    """Build (or finish) the caption tree of ``path`` in ``store``; ``lazy`` defaults to ``tree.lazy``.

    Holds the (store, video) lock throughout: a second run of the same video waits, then reuses.
    """
    probe(path)  # a missing or broken file fails before a lock file is made
    with video_lock(store.path, file_hash(path), str(path)):
        return _index_locked(path, store, video, tree, captioner, embedder, lazy, subtitles, entities,
                             captioner_impl, summarise, progress, asr)


def _index_locked(path: Path | str, store: Store, video: VideoConfig | None, tree: TreeConfig | None,
                  captioner: CaptionerConfig | None, embedder: EmbedderConfig | None, lazy: bool | None,
                  subtitles: Path | str | None, entities: Sequence[str], captioner_impl: Captioner | None,
                  summarise: Summariser | None, progress: Progress | None,
                  asr: AsrConfig | None = None) -> IndexResult:
    t0 = time.perf_counter()
    tcfg = tree or TreeConfig()
    src = open_source(path, store=store, video=video, tree=tcfg, captioner=captioner, embedder=embedder,
                      subtitles=subtitles, entities=entities, captioner_impl=captioner_impl,
                      summarise=summarise, progress=progress, asr=asr)
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
