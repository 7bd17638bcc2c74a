"""Evidence hit rate per question type: did navigation *read* the span that answers the question?

Accuracy mixes two things: reaching the evidence and reading it right. This isolates the first.
A question is a *hit* when a fine read (a clip caption or verbatim lines, not a part summary)
overlaps its evidence span; ``seen`` also counts a part summary over the evidence that quotes
the true answer (a summary that carries the field is a read of it); ``part`` counts any read
below the chapter level (node id with a dot) over the evidence: the planner got near it.
Videos are the generated sample videos (``videonav.tools.video.sample_video``), seeds from
200-299 only, indexed eagerly with the default (classic) captioner as the quickstart does.

Strategies: ``guided-prior`` is ``guided`` with ``planner.llm_gate=0`` (the embedding prior alone
picks every action, no LLM call: seconds per question, so it runs on every question); ``guided``
and ``navigate`` consult the planner LLM (~1 min per question on a shared 2-core CPU), so they run
on ``--llm-per-type`` questions per type of the first ``--llm-seeds`` videos.

    python bench/evidence_hits.py --seeds 200,201,202 --minutes 20 --out bench/results/evidence_hits.txt
    python bench/evidence_hits.py --seeds 200 --llm-per-type 0          # prior only, quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) - max(a[0], b[0]) > 0


def make_video(workdir: Path, minutes: float, seed: int) -> Path:
    out = workdir / f"seed{seed}"
    video = out / f"sample_{minutes:g}min.mp4"
    if not video.exists():
        subprocess.run([sys.executable, "-m", "videonav.tools.video.sample_video", "--minutes", f"{minutes:g}",
                        "--seed", str(seed), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return video


def hit_fields(res: Any, evidence: list[tuple[float, float]], tree: Any, truth: str) -> dict[str, bool]:
    """``hit``: a fine read overlaps the evidence; ``seen``: that, or a summary read over the evidence
    quotes the true answer; ``part``: a read below the chapter level (node id with a dot) overlaps it."""
    fine = [(s.start, s.end) for s in res.visited if s.kind != "summary"]
    parts = [(s.start, s.end) for s in res.visited if s.kind != "summary" or "." in (s.node_id or "")]
    hit = any(overlaps(v, e) for v in fine for e in evidence)
    quoted = [s for s in res.visited if s.kind == "summary" and s.node_id and truth
              and truth.lower() in (tree.node(s.node_id).caption or "").lower()]
    return {"hit": hit, "seen": hit or any(overlaps((s.start, s.end), e) for s in quoted for e in evidence),
            "part": any(overlaps(v, e) for v in parts for e in evidence)}


def pick(questions: list[Any], per_type: int) -> list[Any]:
    seen: dict[str, int] = defaultdict(int)
    out = []
    for q in questions:
        if seen[q.type] < per_type:
            out.append(q)
            seen[q.type] += 1
    return out


def table(recs: list[dict[str, Any]]) -> str:
    strategies = list(dict.fromkeys(r["strategy"] for r in recs))
    types = sorted({r["type"] for r in recs})
    lines = ["| strategy | type | n | hit (fine read) | seen (hit or quoted in a summary read) | part read | "
             "accuracy | captions read |", "|" + "---|" * 8]
    for s in strategies:
        for t in [*types, "ALL"]:
            rs = [r for r in recs if r["strategy"] == s and (t == "ALL" or r["type"] == t)]
            if not rs:
                continue
            n = len(rs)
            lines.append(f"| {s} | {t} | {n} | {sum(r['hit'] for r in rs) / n:.2f} | "
                         f"{sum(r['seen'] for r in rs) / n:.2f} | "
                         f"{sum(r['part'] for r in rs) / n:.2f} | {sum(r['correct'] for r in rs) / n:.2f} | "
                         f"{sum(r['captions_read'] for r in rs) / n:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="200,201,202", help="generator seeds, 200-299 only")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/videonav-evidence"))
    ap.add_argument("--store", default=None, help="default: <workdir>/store.sqlite")
    ap.add_argument("--llm-per-type", type=int, default=1, help="questions per type and video for the LLM "
                                                                  "strategies (0 = prior only)")
    ap.add_argument("--llm-seeds", type=int, default=1, help="the LLM strategies run on the first N seeds")
    ap.add_argument("--label", default="", help="a name for this run in the output (e.g. before/after)")
    ap.add_argument("--out", type=Path, default=None, help="append the table here")
    ap.add_argument("--jsonl", type=Path, default=None, help="per-question records")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if any(not 200 <= s <= 299 for s in seeds):
        print("--seeds: use seeds from 200-299 (other seeds are kept for checks this bench must not see)",
              file=sys.stderr)
        return 2

    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_videonav
    from videonav.agent.runtime import build_runtime
    from videonav.agent.strategies import run_strategy
    from videonav.memory.store import Store
    from videonav.tools.video.index import open_source

    args.workdir.mkdir(parents=True, exist_ok=True)
    store_path = args.store or str(args.workdir / "store.sqlite")
    cfg = load_config(overrides=[f"store.path={store_path}", *args.set])
    prior_cfg = cfg.model_copy(update={"planner": cfg.planner.model_copy(update={"llm_gate": 0.0})})
    rt = build_runtime(cfg, need_llm=args.llm_per_type > 0)
    recs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with Store(store_path) as store:
        for si, seed in enumerate(seeds):
            video = make_video(args.workdir, args.minutes, seed)
            questions = [q for q in load_videonav(video.with_suffix(".questions.json"), video=str(video))
                         if q.evidence]
            source = open_source(video, cfg, store, lazy=False)
            runs: list[tuple[str, str, Any, list[Any]]] = [("guided-prior", "guided", prior_cfg, questions)]
            if args.llm_per_type > 0 and rt.llm is not None and si < args.llm_seeds:
                sub = pick(questions, args.llm_per_type)
                runs += [("guided", "guided", cfg, sub), ("navigate", "navigate", cfg, sub)]
            for label, strat, c, qs in runs:
                planners: dict[str, Any] = {}
                llm = rt.llm if label != "guided-prior" else None
                for q in qs:
                    truth = q.options[q.truth] if q.options and q.truth is not None else (q.truth_text or "")
                    res = run_strategy(strat, source, q.question, q.options, c, llm, rt.embedder, rt.scorer,
                                       12, planners)
                    rec = {"seed": seed, "qid": q.qid, "type": q.type, "strategy": label,
                           "correct": q.truth is not None and res.option_index == q.truth,
                           "captions_read": res.cost.captions_read, "seconds": round(res.cost.seconds, 2),
                           **hit_fields(res, list(q.evidence), source.tree, truth)}
                    recs.append(rec)
                    print(json.dumps(rec), file=sys.stderr, flush=True)
            source.close()
    head = (f"## {args.label or 'run'}: seeds {seeds}, {args.minutes:g}-minute videos, "
            f"{time.perf_counter() - t0:.0f} s; guided/navigate on {args.llm_per_type} question(s) per type "
            f"of the first {args.llm_seeds} video(s)\n")
    text = head + table(recs) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
    if args.jsonl:
        args.jsonl.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
