"""Asking a long video offline: accuracy and cost per question on the synthetic sample video.

The video is opened lazily (top levels captioned up front if not already stored; deeper nodes
captioned when the planner first expands them, or the likeliest leaves under a part it inspects),
so the per-question cost includes the captions the question *caused to be built*. Prints
per-strategy accuracy, captions read and built, p50/p90 seconds per question and peak RSS.

    python demos/make_sample_video.py --minutes 60 --out out/s60
    python bench/ask.py --video out/s60/sample_60min.mp4
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", required=True)
    ap.add_argument("--questions", default=None, help="default: <video stem>.questions.json beside the video")
    ap.add_argument("--strategies", default="guided,search-k,uniform-k")
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--store", default="/tmp/videonav-ask-bench.sqlite")
    ap.add_argument("--output", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()

    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_videonav
    from videonav.agent.evaluation.harness import evaluate, format_table, summarise
    from videonav.agent.runtime import build_runtime
    from videonav.agent.strategies import needs_llm
    from videonav.tools.video.index import open_source

    video = Path(args.video)
    qpath = Path(args.questions) if args.questions else video.with_suffix(".questions.json")
    questions = load_videonav(qpath, video=str(video))[: args.limit]
    cfg = load_config(overrides=[f"store.path={args.store}", "tree.lazy=true", *args.set])
    strategies = args.strategies.split(",")
    t0 = time.perf_counter()
    rt = build_runtime(cfg, need_llm=any(needs_llm(s, cfg, q.options) for s in strategies for q in questions))
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    source = open_source(video, cfg, rt.store, lazy=True)
    open_s = time.perf_counter() - t1
    print(f"{len(questions)} questions on {video.name}; models {load_s:.1f} s; tree opened/top levels captioned "
          f"in {open_s:.1f} s; planner={cfg.planner.backend}", flush=True)
    recs = evaluate(questions, lambda _v: source, strategies, cfg, rt.llm, rt.embedder, rt.scorer, args.k,
                    args.output, lambda d, n, m: print(f"{d}/{n} {m}", file=sys.stderr, flush=True))
    rows = summarise(recs)
    for row in rows:
        secs = [r["seconds"] for r in recs if r["strategy"] == row["strategy"]]
        row["p50_s"] = statistics.median(secs)
        row["p90_s"] = sorted(secs)[int(0.9 * (len(secs) - 1))]
        row["built"] = statistics.fmean(r["captions_built"] for r in recs if r["strategy"] == row["strategy"])
    print(format_table(rows))
    c = source.cost  # the per-question 'built' above is each question's share; leaves built once serve later ones
    print(f"captions built on demand in all: {c.captions_built} ({c.caption_seconds:.1f} s); "
          f"{sum(n.caption is not None for n in source.tree.nodes())}/{len(source.tree)} nodes captioned")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
