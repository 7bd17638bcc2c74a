"""``videonav index VIDEO``: build (or finish) and store the caption tree of a video.

Thin on purpose: the work is ``videonav.tools.video.index.index_video``; this module turns flags into
a ``RunConfig`` (defaults < ``--config`` YAML < ``--set`` < flags), draws the progress bar, saves
the run config beside the store (``<store dir>/runs/<run id>.yaml`` and the store's ``runs``
table) and prints a summary or ``--json``. Killing it loses at most the captions in flight:
rerunning finishes the job. Several videos, folders, ``--manifest`` or ``--ray``: the work is
``videonav.agent.library.index_library`` (one bar over videos, failures summed up at the end).
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
from videonav.agent.cli.transcribe import add_asr_options, asr_overrides
from videonav.agent.config import RunConfig
from videonav.agent.library import VIDEO_EXTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", type=Path, nargs="*", metavar="VIDEO",
                   help="video files (mp4, mkv, avi, ...) or folders (searched recursively by --ext)")
    p.add_argument("--captioner", choices=("classic", "transformers", "vllm", "openai"),
                   help="captioner backend (default: captioner.backend, 'classic')")
    p.add_argument("--model", help="captioner model id or local path (transformers/vllm/openai)")
    p.add_argument("--lazy", action="store_true", help="caption only the top tree.eager_levels levels now, "
                                                       "the rest on demand during `videonav ask`")
    p.add_argument("--subtitles", type=Path, help="subtitle file (.srt/.vtt); default: a sidecar beside the "
                                                  "video, else an embedded text stream")
    p.add_argument("--entities", default="", help="comma-separated names to look for (contextual captioning)")
    add_asr_options(p)
    add_common(p)
    lib = p.add_argument_group("many videos (a library)")
    lib.add_argument("--manifest", type=Path, metavar="FILE",
                     help="more videos: one path per line, or JSONL objects {path, subtitles, entities, lazy}")
    lib.add_argument("--ext", default=",".join(e.lstrip(".") for e in VIDEO_EXTS),
                     help="extensions a folder contributes (comma-separated)")
    lib.add_argument("--ray", action="store_true", help="run on Ray: one task per video (pip install 'videonav[ray]')")
    lib.add_argument("--address", help="Ray cluster: 'auto' or HOST:PORT of a running one (default: RAY_ADDRESS, "
                                       "else a local cluster of --workers CPUs)")
    lib.add_argument("--workers", type=int, help="videos in parallel (Ray; default: every CPU)")
    lib.add_argument("--shard-dir", type=Path, help="where Ray workers keep per-video shard stores "
                                                    "(default: .videonav-shards beside the store)")
    lib.add_argument("--cpus-per-task", type=int, default=1, help="CPUs each video task holds (Ray)")
    lib.add_argument("--max-retries", type=int, default=3, help="Ray retries of a video whose worker died")
    lib.add_argument("--actors", type=int, help="captioner actors holding the model (default: one per GPU "
                                                "for transformers/vllm, none otherwise)")
    lib.add_argument("--gpus-per-actor", type=float, default=1.0, help="GPUs each captioner actor holds")
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
    overrides += asr_overrides(args)
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
        if not tasks:  # shown from the first step on: a run that fails before it prints only its error line
            bar.start()
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def main(args: argparse.Namespace) -> int:
    from videonav.agent.sources import index_and_record

    cfg = build_config(args)
    entities = [e.strip() for e in args.entities.split(",") if e.strip()]
    if len(args.video) != 1 or args.video[0].is_dir() or args.manifest or args.ray:
        return main_many(args, cfg, entities)
    with progress_bar(not (args.no_progress or args.json)) as cb:
        result, summary = index_and_record(args.video[0], cfg, subtitles=args.subtitles, entities=entities,
                                           progress=cb)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    s = result.stats
    print(f"{args.video[0]}: {s.nodes} nodes ({s.leaves} leaves, depth {s.depth}, width {s.width}); "
          f"captioned now {s.captioned_now}, already stored {s.captioned_before}, "
          f"left for later {s.uncaptioned}")
    print(f"  {s.video_seconds:.0f} s of video in {s.wall_seconds:.1f} s "
          f"({summary['video_seconds_per_second']:.1f}x), scan {s.scan_seconds:.1f} s, "
          f"decode {s.decode_seconds:.1f} s, "
          f"OCR {s.ocr_seconds:.1f} s, caption {s.caption_seconds:.1f} s, {s.frames_decoded} frames decoded")
    print(f"  tree {result.tree_key} in {summary['store']}; run config {summary['config']}", file=sys.stdout)
    return 0


def main_many(args: argparse.Namespace, cfg: RunConfig, entities: list[str]) -> int:
    """Many videos: one progress bar over videos, one line per video, failures summed up at the end."""
    from videonav.agent.library import LibraryError, index_library, resolve_jobs

    if not args.ray:
        given = [f for f, v in (("--address", args.address), ("--workers", args.workers),
                                ("--shard-dir", args.shard_dir), ("--actors", args.actors)) if v is not None]
        if given:
            raise LibraryError(f"{', '.join(given)} only apply to a Ray run; add --ray or drop them")
    jobs = resolve_jobs(args.video, args.manifest, [e.strip() for e in args.ext.split(",") if e.strip()],
                        subtitles=args.subtitles, entities=entities)
    ray_opts = {"address": args.address, "workers": args.workers, "shard_dir": args.shard_dir,
                "max_retries": args.max_retries, "actors": args.actors, "actor_gpus": args.gpus_per_actor,
                "cpus_per_task": args.cpus_per_task}
    with progress_bar(not (args.no_progress or args.json)) as cb:
        def on_video(out: Any, done: int, total: int) -> None:
            if cb:
                cb(done, total, "videos")
        res = index_library(jobs, cfg, on_video=on_video, use_ray=args.ray, **(ray_opts if args.ray else {}))
    d = res.as_dict()
    if args.json:
        print(json.dumps(d, indent=1))
    else:
        for o in res.outcomes:
            what = o.error if o.status == "failed" else o.tree_key
            label = {"skipped": "already indexed", "failed": "failed:"}.get(o.status, o.status)
            print(f"{o.job.path}: {label} {what}" + (f" ({o.video_seconds:.0f} s of video in "
                                                         f"{o.wall_seconds:.1f} s)" if o.status == "indexed" else ""))
        print(f"{d['indexed']} indexed, {d['skipped']} already done, {d['failed']} failed of {d['videos']} "
              f"videos: {d['video_seconds']:.0f} s of video in {d['wall_seconds']:.1f} s "
              f"({d['video_seconds_per_second']:.1f}x, {res.mode}) into {cfg.store.path}")
    for o in res.failed:
        print(f"videonav index: error: {o.error}", file=sys.stderr)
    return 1 if res.failed else 0
