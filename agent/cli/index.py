"""``videonav index VIDEO``: build (or finish) and store the caption tree of a video.

Thin on purpose: the work is ``videonav.tools.video.index.index_video``; this module turns flags into
a ``RunConfig`` (defaults < ``--config`` YAML < ``--set`` < flags), draws the progress bar, saves
the run config beside the store (``<store dir>/runs/<run id>.yaml`` and the store's ``runs``
table) and prints a summary or ``--json``. Killing it loses at most the captions in flight:
rerunning finishes the job.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videonav.agent.cli.common import add_common, load_run_config
from videonav.agent.config import RunConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", type=Path, help="video file (mp4, mkv, avi, ...)")
    p.add_argument("--captioner", choices=("classic", "transformers", "vllm", "openai"),
                   help="captioner backend (default: captioner.backend, 'classic')")
    p.add_argument("--model", help="captioner model id or local path (transformers/vllm/openai)")
    p.add_argument("--lazy", action="store_true", help="caption only the top tree.eager_levels levels now, "
                                                       "the rest on demand during `videonav ask`")
    p.add_argument("--subtitles", type=Path, help="subtitle file (.srt/.vtt); default: a sidecar beside the "
                                                  "video, else an embedded text stream")
    p.add_argument("--entities", default="", help="comma-separated names to look for (contextual captioning)")
    add_common(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_config(args: argparse.Namespace) -> RunConfig:
    overrides = []
    if args.captioner:
        overrides.append(f"captioner.backend={args.captioner}")
    if args.model:
        overrides.append(f"captioner.model={json.dumps(args.model)}")
    if args.lazy:
        overrides.append("tree.lazy=true")
    return load_run_config(args, overrides)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr with ETA; yields the ``progress(done, total, stage)`` callback."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(),
                   console=Console(stderr=True), transient=False)
    tasks: dict[str, Any] = {}

    def update(done: float, total: float, stage: str) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def main(args: argparse.Namespace) -> int:
    from videonav.agent.sources import index_and_record

    cfg = build_config(args)
    entities = [e.strip() for e in args.entities.split(",") if e.strip()]
    with progress_bar(not (args.no_progress or args.json)) as cb:
        result, summary = index_and_record(args.video, cfg, subtitles=args.subtitles, entities=entities,
                                           progress=cb)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    s = result.stats
    print(f"{args.video}: {s.nodes} nodes ({s.leaves} leaves, depth {s.depth}, width {s.width}); "
          f"captioned now {s.captioned_now}, already stored {s.captioned_before}, "
          f"left for later {s.uncaptioned}")
    print(f"  {s.video_seconds:.0f} s of video in {s.wall_seconds:.1f} s "
          f"({summary['video_seconds_per_second']:.1f}x), scan {s.scan_seconds:.1f} s, "
          f"decode {s.decode_seconds:.1f} s, "
          f"OCR {s.ocr_seconds:.1f} s, caption {s.caption_seconds:.1f} s, {s.frames_decoded} frames decoded")
    print(f"  tree {result.tree_key} in {summary['store']}; run config {summary['config']}", file=sys.stdout)
    return 0
