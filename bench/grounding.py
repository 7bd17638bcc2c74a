"""Grounded navigation on NExT-GQA: did the planner look where the evidence is, and at what cost?

Strategies side by side on the same trees: ``navigate`` (the LLM chooses), ``uniform-k``,
``search-k`` (top-k captions by similarity to question + options, no LLM) and ``guided`` (the
planner with the embedding prior). Metrics are on unions of intervals (agent/metrics.py):
evidence recall, visited precision, their F1, IoP/IoU of the cited spans and Acc@GQA; the
``fine_*`` columns count only clip captions and verbatim lines as visited (not the summaries
of whole parts, which cover much of a short video and so say little about where it looked).

    python bench/grounding.py --limit 300
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample_args(doc: str | None) -> argparse.ArgumentParser:
    """The parser with the question-sample options this bench and ``grounding_ceiling.py`` share."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="dev", choices=["dev", "train", "all"])
    return ap


def main() -> int:
    ap = sample_args(__doc__)
    ap.add_argument("--strategies", default="uniform-k,search-k,navigate,guided")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--store", default="/tmp/videonav-bench.sqlite")
    ap.add_argument("--output", default=None, help="JSONL of per-question records")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = ap.parse_args()

    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_nextgqa
    from videonav.agent.evaluation.harness import evaluate, format_table, summarise
    from videonav.agent.runtime import build_runtime
    from videonav.agent.strategies import needs_llm
    from videonav.memory.formats import CaptionSource
    from videonav.memory.split import split_of
    from videonav.tools.text_source import TextTreeSource, text_tree

    data = Path(args.data)
    if not (data / "nextgqa" / "val.csv").exists():
        print(f"shared NExT-GQA data not found under {data}", file=sys.stderr)
        return 2
    cfg = load_config(overrides=[f"store.path={args.store}", *args.set])
    strategies = args.strategies.split(",")
    src = CaptionSource(data / "nextqa" / "captions_1fps.zip")
    have = set(src.ids())
    qs = [q for q in load_nextgqa(data / "nextgqa" / "val.csv", data / "nextgqa" / "gsub_val.json")
          if q.video in have and q.evidence and (args.split == "all" or split_of(q.video) == args.split)]
    qs = random.Random(args.seed).sample(qs, min(args.limit, len(qs)))
    rt = build_runtime(cfg, need_llm=any(needs_llm(s, cfg, q.options) for s in strategies for q in qs))
    print(f"{len(qs)} NExT-GQA {args.split} questions, seed {args.seed}; planner={cfg.planner.backend}; "
          f"budget {cfg.budget.max_captions} captions; k={args.k}")

    def source_for(v: str) -> TextTreeSource:
        return TextTreeSource(text_tree(v, src.get(v), cfg.tree, rt.embedder, rt.store), rt.embedder,
                              cfg.planner.inspect_lines)

    t = time.perf_counter()

    def progress(d: int, n: int, msg: str) -> None:
        if d == n or d % max(1, n // 20) == 0:
            print(f"{d}/{n} {time.perf_counter() - t:6.0f} s", file=sys.stderr, flush=True)

    recs = evaluate(qs, source_for, strategies, cfg, rt.llm, rt.embedder, rt.scorer, args.k, args.output, progress)
    print(f"\n{len(qs)} questions x {len(strategies)} strategies in {time.perf_counter() - t:.0f} s")
    cols = ["strategy", "n", "evidence_recall", "visited_precision", "grounding_f1", "fine_recall",
            "fine_precision", "fine_f1", "iop", "acc_gqa", "accuracy", "captions_read", "read_fraction",
            "tool_calls", "seconds"]
    print(format_table([{c: r.get(c) for c in cols} for r in summarise(recs)]))
    for strat in strategies:
        rows = summarise([r for r in recs if r["strategy"] == strat], by="type")
        print(f"\n{strat} by question type")
        print(format_table([{c.replace("strategy", "type"): r.get(c.replace("strategy", "type")) for c in cols}
                            for r in sorted(rows, key=lambda r: r["type"])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
