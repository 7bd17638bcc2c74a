"""Navigation benchmark: strategies side by side on NExT-QA dev, with the offline models.

Two question sets, both from the shared NExT-QA validation data, dev split only:
- ``native``: the questions on their own videos (10-120 one-second captions each);
- ``long``: each question's video spliced at a random place into other dev videos until the
  whole runs ``--long-captions`` (default 180) one-second captions: a 3-minute video whose
  evidence is one sub-video. NExT-QA has almost no 3-minute videos (3 of 570), so this is how
  the "180 captions, read <= 12" target is measured on real captions and real questions;
- ``ego``: ``--limit`` synthetic egocentric 3-minute videos of ``bench/ego_synth.py`` (180
  "#C C cuts the onion" narrations, five long whole-activity options): a behaviour check of the
  transfer to the hidden EgoSchema-like set, never fitting data.
Each set also prints the plain MiniLM baseline (mean cosine of "question option" to all captions,
the 40.8% reference of the hidden set) on the same questions.
Every strategy reads the same trees and answers with the same option scorer (and the same
LLM), so the table isolates *what was read*.

    python bench/navigation.py --limit 100 --strategies all-captions,uniform-k,search-k,navigate,guided
    python bench/navigation.py --anchored --limit 2000 --sets native --strategies guided \
        --set planner.backend=none [--set planner.time_pull=0]
    python bench/navigation.py --limit 60 --sets ego --strategies all-captions,search-k,guided \
        --set planner.backend=none
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def ego_questions(n: int, seed: int):  # noqa: ANN201
    """The synthetic egocentric set as (questions, {video_id: lines})."""
    from ego_synth import make_set

    from videonav.agent.evaluation.datasets import Question
    from videonav.memory.tree import TimedText

    qs, caps = make_set(n, seed)
    questions = [Question(qid=k, video=k, question=r["question"], options=[r[f"option {i}"] for i in range(5)],
                          truth=r["truth"], type=r["activity"]) for k, r in qs.items()]
    videos = {k: [TimedText(start=float(i), end=float(i + 1), text=t) for i, t in enumerate(c)]
              for k, c in caps.items()}
    return questions, videos


def mean_sim_baseline(questions, lookup, embedder) -> float:  # noqa: ANN001
    """Accuracy of argmax over options of mean cosine("question option", every caption)."""
    import numpy as np

    ok = 0
    for q in questions:
        texts = [ln.text for ln in lookup(q.video)]
        cap = embedder.encode(texts)
        qo = embedder.encode([f"{q.question} {o}" for o in q.options])
        ok += int(int(np.argmax((qo @ cap.T).mean(axis=1))) == q.truth)
    return ok / max(1, len(questions))


def build_long(questions, captions, target: int, seed: int):  # noqa: ANN001, ANN201
    """Questions re-targeted at spliced videos: (questions, {video_id: lines})."""
    from videonav.memory.tree import TimedText

    rng = random.Random(seed)
    pool = sorted({q.video for q in questions})
    out_q, videos = [], {}
    for i, q in enumerate(questions):
        own = captions(q.video)
        fillers, total = [], len(own)
        while total < target:
            v = rng.choice(pool)
            if v == q.video or v in fillers:
                continue
            fillers.append(v)
            total += len(captions(v))
        parts = [captions(v) for v in fillers]
        parts.insert(rng.randrange(len(parts) + 1), own)
        lines, t = [], 0.0
        span = (0.0, 0.0)
        for part in parts:
            base = t
            for ln in part:
                if len(lines) >= target:
                    break
                lines.append(TimedText(start=base + ln.start, end=base + ln.end, text=ln.text))
            if part is own:
                span = (base, base + max(ln.end for ln in part))
            t = base + max(ln.end for ln in part)
        vid = f"long{i}_{q.video}"
        videos[vid] = lines
        out_q.append(q.model_copy(update={"video": vid, "evidence": [span]}))
    return out_q, videos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--anchored", action="store_true", help="only dev questions whose wording names a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default="native,long")
    ap.add_argument("--long-captions", type=int, default=180)
    ap.add_argument("--strategies", default="all-captions,uniform-k,search-k,navigate,guided")
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--reverse", action="store_true", help="ask the sampled questions last-first (a second process "
                                                           "meeting a first one halfway; merge the JSONL by qid)")
    ap.add_argument("--store", default="/tmp/videonav-bench.sqlite")
    ap.add_argument("--output", default=None, help="JSONL prefix (one file per set)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = ap.parse_args()

    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_nextqa
    from videonav.agent.evaluation.harness import evaluate, format_table, summarise
    from videonav.agent.runtime import build_runtime
    from videonav.agent.strategies import needs_llm
    from videonav.memory.formats import CaptionSource
    from videonav.memory.split import split_of
    from videonav.tools.text_source import TextTreeSource, text_tree

    data = Path(args.data)
    if not (data / "nextqa" / "val.csv").exists():
        print(f"shared NExT-QA data not found under {data}", file=sys.stderr)
        return 2
    cfg = load_config(overrides=[f"store.path={args.store}", *args.set])
    strategies = args.strategies.split(",")
    src = CaptionSource(data / "nextqa" / "captions_1fps.zip")
    have = set(src.ids())
    dev = [q for q in load_nextqa(data / "nextqa" / "val.csv") if split_of(q.video) == "dev" and q.video in have]
    if args.anchored:  # only the questions that name a time ("at the end of the video"): agent/time_anchor.py
        from videonav.agent.time_anchor import anchored

        dev = [q for q in dev if anchored(q.question)]
    qs = random.Random(args.seed).sample(dev, min(args.limit, len(dev)))
    qs = qs[::-1] if args.reverse else qs
    t0 = time.perf_counter()
    rt = build_runtime(cfg, need_llm=any(needs_llm(s, cfg, q.options) for s in strategies for q in qs))
    load_s = time.perf_counter() - t0
    print(f"{len(qs)} dev questions, seed {args.seed}; models loaded in {load_s:.1f} s; "
          f"planner={cfg.planner.backend} decoding={cfg.planner.decoding}; budget: {cfg.budget.max_captions} captions")
    for which in args.sets.split(","):
        if which == "native":
            questions, lookup = qs, src.get
        elif which == "ego":
            questions, videos = ego_questions(args.limit, args.seed)
            lookup = videos.__getitem__
        else:
            questions, videos = build_long(qs, src.get, args.long_captions, args.seed)
            lookup = videos.__getitem__

        def source_for(v: str, lookup=lookup) -> TextTreeSource:  # noqa: ANN001
            return TextTreeSource(text_tree(v, lookup(v), cfg.tree, rt.embedder, rt.store), rt.embedder,
                                  cfg.planner.inspect_lines)

        t = time.perf_counter()
        out = f"{args.output}.{which}.jsonl" if args.output else None

        def progress(d: int, n: int, msg: str, which: str = which, t: float = t) -> None:
            if d == n or d % max(1, n // 10) == 0:
                print(f"[{which}] {d}/{n} {time.perf_counter() - t:6.0f} s", file=sys.stderr, flush=True)

        recs = evaluate(questions, source_for, strategies, cfg, rt.llm, rt.embedder, rt.scorer, args.k, out, progress)
        print(f"\n== {which}: {len(questions)} questions, {time.perf_counter() - t:.0f} s wall")
        print(format_table(summarise(recs)))
        print(f"MiniLM mean-cosine baseline (question+option vs all captions): "
              f"{mean_sim_baseline(questions, lookup, rt.embedder):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
