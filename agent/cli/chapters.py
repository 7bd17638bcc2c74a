"""``videonav chapters VIDEO | --tree FILE``: chapter titles and summaries from the caption tree.

The tree comes from (first match wins) ``--tree FILE`` (a videonav tree, a LongVideo-R1 file
or ``{second: caption}`` lines), a tree key or video id in the store, or a video file indexed
through ``videonav.tools.video.index`` (stored, so a second run reuses it). Titles come from the
planner LLM in the config when it can be built, else from the extractive writer; ``--titles``
forces either.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from videonav.agent.chapters.build import ChapterError, make_chapters
from videonav.agent.chapters.formats import FORMATS, render
from videonav.agent.chapters.titles import ChapterWriter
from videonav.agent.cli.common import add_common, load_run_config
from videonav.agent.config import ChapterConfig, RunConfig
from videonav.memory.tree import CaptionTree


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="?", help="video file, or a video id / tree key in the store")
    p.add_argument("--tree", type=Path, help="caption tree file instead of a video")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
    p.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    p.add_argument("--count", type=int, help="number of chapters (chapters.count; default: automatic)")
    p.add_argument("--min-seconds", type=float, help="shortest chapter in seconds (chapters.min_seconds, 10)")
    p.add_argument("--level", type=int, help="tree level whose nodes are the units (chapters.level; default: "
                                             "leaves)")
    p.add_argument("--sections", action="store_true", default=None,
                   help="also split chapters into sections (chapters.sections)")
    p.add_argument("--titles", choices=("auto", "llm", "extractive"), default="auto",
                   help="auto: the planner LLM if it can be built, else extractive")
    add_common(p)


def _tree_from_file(path: Path, cfg: RunConfig, embedder: Any) -> CaptionTree:
    from videonav.memory.builders import build_from_timed_text
    from videonav.memory.formats import load_any_tree
    from videonav.tools.embed import ExtractiveSummariser

    loaded = load_any_tree(path)
    if isinstance(loaded, CaptionTree):
        return loaded
    if embedder is None:
        from videonav.tools.embed import make_embedder

        embedder = make_embedder(cfg.embedder)
    summarise = ExtractiveSummariser(embedder, sentences=cfg.tree.summary_sentences)
    return build_from_timed_text(path.stem, loaded, summarise, leaf_seconds=cfg.tree.leaf_seconds,
                                 width=cfg.tree.width)


def _tree_from_store(ref: str, store_path: Path | None) -> CaptionTree | None:
    from videonav.memory.store import Store

    with Store(store_path, create=False) as store:  # a lookup never creates a store
        keys = [ref] if store.has_tree(ref) else store.tree_keys(ref)
        return store.load_tree(keys[-1]) if keys else None


def _tree_from_video(path: Path, cfg: RunConfig, store_path: Path | None) -> CaptionTree:
    """Index the video fully (chapters need every unit captioned), reusing what the store has."""
    from videonav.agent.sources import fully_indexed_tree

    return fully_indexed_tree(path, cfg, store_path)


def load_tree_for(args: argparse.Namespace, cfg: RunConfig, embedder: Any) -> CaptionTree:
    """The tree named on the command line (file, store reference or video)."""
    if args.tree:
        return _tree_from_file(args.tree, cfg, embedder)
    if not args.video:
        raise ChapterError("give a VIDEO (file, video id or tree key) or --tree FILE")
    store_path = args.store or cfg.store.path
    ref = Path(args.video)
    if not ref.is_file():
        tree = _tree_from_store(args.video, store_path)
        if tree is None:
            raise ChapterError(f"{args.video!r} is neither a file nor a video id / tree key in the store")
        return tree
    if ref.suffix.lower() == ".json":
        return _tree_from_file(ref, cfg, embedder)
    return _tree_from_video(ref, cfg, store_path)


def build_writer(args: argparse.Namespace, cfg: RunConfig, embedder: Any,
                 ccfg: ChapterConfig) -> ChapterWriter:
    """The planner LLM as title writer when it can be built (``--titles auto``), else extractive."""
    llm = None
    if args.titles != "extractive":
        from videonav.agent.llm.base import make_llm

        try:
            llm = make_llm(cfg.planner)
        except (ImportError, RuntimeError, ValueError, OSError) as e:
            if args.titles == "llm":
                raise
            print(f"videonav chapters: planner LLM unavailable ({e}); using extractive titles",
                  file=sys.stderr)
    return ChapterWriter(embedder, llm, max_words=ccfg.title_words, summary_sentences=ccfg.summary_sentences)


def main(args: argparse.Namespace) -> int:
    from videonav.tools.embed import make_embedder

    if args.count is not None and args.count < 1:
        raise ChapterError("--count must be at least 1")
    # the flags are shorthands for chapters.* overrides, applied after --set
    flags = {"count": args.count, "min_seconds": args.min_seconds, "level": args.level, "sections": args.sections}
    cfg = load_run_config(args, [f"chapters.{k}={v}" for k, v in flags.items() if v is not None])
    ccfg = cfg.chapters
    if args.format == "youtube" and ccfg.min_chapters < 3:  # YouTube shows chapters only from three on
        ccfg = ccfg.model_copy(update={"min_chapters": 3})
    tree = load_tree_for(args, cfg, None)  # file, store and video errors come before the embedder loads
    embedder = make_embedder(cfg.embedder)
    writer = build_writer(args, cfg, embedder, ccfg)
    chapters = make_chapters(tree, embedder, writer, ccfg)
    text = render(args.format, chapters, tree.video_id, tree.duration,
                  titles=writer.llm.model_id if writer.llm is not None else "extractive", **writer.stats)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(chapters)} chapters -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
