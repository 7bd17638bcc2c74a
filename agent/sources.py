"""Where a caption tree comes from, shared by the CLI verbs and the Python API (``videonav.agent.api``).

A tree is named by a store key, a tree or caption file (videonav JSON, LongVideo-R1,
``{second: caption}``), or a video file (indexed through ``videonav.tools.video.index``). Keeping
this here, below the CLI, is what lets ``Video.open`` and ``videonav ask --tree`` accept the same
things, and ``Video.index`` record the same run as ``videonav index``. Nothing here prints: the
callers decide what to show. Video and embedding imports happen on first use.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videonav.agent.config import RunConfig, save_config
from videonav.memory.formats import load_any_tree
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree

if TYPE_CHECKING:
    from videonav.memory.source import TreeSource
    from videonav.tools.embed import Embedder
    from videonav.tools.video.index import IndexResult
    from videonav.tools.video.source import Progress


def load_tree(source: str | Path, store: Store, cfg: RunConfig) -> tuple[str | None, CaptionTree]:
    """(tree key or None, tree) from a store key, a tree/caption file, or a video path.

    A caption file is built into a tree with ``cfg.tree`` (cached in ``store``); a video is opened
    lazily (top levels captioned now, the rest on demand). Raises ``FileNotFoundError`` naming
    what was tried when ``source`` is none of these.
    """
    ref = str(source)
    if store.has_tree(ref):
        return ref, store.load_tree(ref)
    p = Path(ref)
    if p.suffix.lower() == ".json" and p.exists():
        got = load_any_tree(p)
        if isinstance(got, CaptionTree):
            return None, got
        from videonav.tools.embed import make_embedder
        from videonav.tools.text_source import text_tree

        return None, text_tree(p.stem.removesuffix("_cap"), got, cfg.tree, make_embedder(cfg.embedder), store)
    if p.exists():
        from videonav.tools.video.index import open_source

        src = open_source(p, cfg, store, lazy=True)
        try:
            return src.tree_key, src.tree
        finally:
            src.close()
    raise FileNotFoundError(f"{ref}: not a tree key in {store.path}, a caption file or a video")


def question_source(video: Path | str | None, tree: CaptionTree | None, cfg: RunConfig, store: Store,
                    embedder: Embedder) -> TreeSource:
    """What a question navigates: a video's lazy source (missing captions are built when reached,
    from real frames) or, without a video, a text source over ``tree``. Close it when done."""
    if video is not None:
        from videonav.tools.video.index import open_source

        return open_source(video, cfg, store, lazy=True)
    if tree is None:
        raise ValueError("question_source needs a video or a tree")
    from videonav.tools.text_source import TextTreeSource

    return TextTreeSource(tree, embedder, cfg.planner.inspect_lines)


def index_and_record(video: Path | str, cfg: RunConfig, *, subtitles: Path | str | None = None,
                     entities: Sequence[str] = (), progress: Progress | None = None,
                     ) -> tuple[IndexResult, dict[str, Any]]:
    """Index ``video`` into ``cfg.store.path`` and record the run, as ``videonav index`` does.

    The run goes into the store's ``runs`` table and its config into
    ``<store dir>/runs/<run id>.yaml``; returns the index result and the run summary (tree key,
    store, config file, the index statistics). A bad file or captioner config fails before a store
    file is created.
    """
    from videonav.tools.captioners.base import make_captioner
    from videonav.tools.video.index import index_video
    from videonav.tools.video.probe import probe

    probe(video)
    captioner = make_captioner(cfg.captioner)
    started = time.time()
    with Store(cfg.store.path) as store:
        result = index_video(video, store=store, video=cfg.video, tree=cfg.tree, captioner=cfg.captioner,
                             embedder=cfg.embedder, lazy=cfg.tree.lazy, subtitles=subtitles,
                             entities=list(entities), captioner_impl=captioner, progress=progress,
                             asr=cfg.asr)
        stats = result.stats.as_dict()
        run_id = f"index-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}-{result.tree_key[-8:]}-" \
                 f"{uuid.uuid4().hex[:8]}"  # unique: two runs in the same second must not share a record
        summary = {"run_id": run_id, "video": str(video), "tree_key": result.tree_key,
                   "video_id": result.tree.video_id, "store": str(store.path), "lazy": cfg.tree.lazy, **stats}
        store.save_run(run_id, "index", result.tree_key, cfg.model_dump(mode="json"), summary, [])
        runs = store.path.parent / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        save_config(cfg, runs / f"{run_id}.yaml")
        summary["config"] = str(runs / f"{run_id}.yaml")
    return result, summary


def fully_indexed_tree(path: Path | str, cfg: RunConfig, store_path: Path | str | None) -> CaptionTree:
    """The video's tree with every node captioned (chapters need every unit), reusing what the store has.

    The indexer keeps its shot scan in the store's cache; its cuts become ``meta["shot_cuts"]``
    so the chapter segmenter can prefer boundaries on real cuts over forced leaf splits.
    """
    from videonav.tools.video.index import index_video

    with Store(store_path) as store:
        result = index_video(path, store=store, video=cfg.video, tree=cfg.tree, captioner=cfg.captioner,
                             embedder=cfg.embedder, lazy=False, asr=cfg.asr)
        scan = store.cache_get(f"scan:{result.tree_key}") or {}
    tree = result.tree
    if isinstance(scan, dict) and isinstance(scan.get("cuts"), list):
        tree.meta["shot_cuts"] = [float(c) for c in scan["cuts"]]
    return tree
