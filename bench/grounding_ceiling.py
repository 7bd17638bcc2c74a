"""How far clip-level grounding on NExT-GQA can go at a 15% read budget, and what the captions allow.

The grounding target (clip-level evidence recall >= 0.7 and F1 >= 0.5 while reading <= 15% of the
captions) is scored on what the planner read (``bench/grounding.py``, ``fine_*`` columns). This
script separates the two things that limit it, with no planner in the way. For each question it
reads whole leaf clips (one caption each) up to 15% of the tree's searchable items (the harness's
denominator) and scores the clips it picked against the evidence spans:

- ``oracle``: clips ranked by their overlap with the evidence, best F1 over k <= budget -- the
  ceiling any selection of clips can reach at this budget;
- ``random``: k clips at random -- the floor;
- ``sim:q``, ``sim:q+options`` (max over options), ``sim:q+truth`` (the correct option, which a
  planner does not know): clips ranked by MiniLM cosine of their caption to the query.

If similarity sits near random while the oracle is far above, the captions do not say where the
event is, and no planner built on them can meet the target.

    python bench/grounding_ceiling.py --limit 300          # dev split, seed 0 (bench/grounding.py's sample)
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _overlap(span: tuple[float, float], ev: list[tuple[float, float]]) -> float:
    """Share of ``span`` inside the evidence spans."""
    s, e = span
    return sum(max(0.0, min(e, b) - max(s, a)) for a, b in ev) / max(1e-9, e - s)


def main() -> int:
    from grounding import sample_args

    ap = sample_args(__doc__)
    ap.add_argument("--budget", type=float, default=0.15, help="fraction of searchable items that may be read")
    ap.add_argument("--store", default="/tmp/videonav-bench.sqlite")
    args = ap.parse_args()

    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_nextgqa
    from videonav.agent.evaluation.metrics import evidence_recall, f1, visited_precision
    from videonav.agent.observe import search_items
    from videonav.memory.formats import CaptionSource
    from videonav.memory.split import split_of
    from videonav.memory.store import Store
    from videonav.tools.embed import make_embedder
    from videonav.tools.text_source import text_tree

    data = Path(args.data)
    if not (data / "nextgqa" / "val.csv").exists():
        print(f"shared NExT-GQA data not found under {data}", file=sys.stderr)
        return 2
    cfg = load_config(overrides=[f"store.path={args.store}"])
    src = CaptionSource(data / "nextqa" / "captions_1fps.zip")
    have = set(src.ids())
    qs = [q for q in load_nextgqa(data / "nextgqa" / "val.csv", data / "nextgqa" / "gsub_val.json")
          if q.video in have and q.evidence and (args.split == "all" or split_of(q.video) == args.split)]
    qs = random.Random(args.seed).sample(qs, min(args.limit, len(qs)))
    emb = make_embedder(cfg.embedder)
    rows: dict[str, list[tuple[float, float, float]]] = {}
    budgets, fracs = [], []

    def score(name: str, spans: list[tuple[float, float]], ev: list[tuple[float, float]]) -> tuple[float, ...]:
        r, p = evidence_recall(spans, ev), visited_precision(spans, ev)
        rows.setdefault(name, []).append((r, p, f1(p, r)))
        return r, p, f1(p, r)

    with Store(args.store) as store:
        for n, q in enumerate(qs, 1):
            tree = text_tree(q.video, src.get(q.video), cfg.tree, emb, store)
            leaves = tree.leaves()
            ev = [tuple(e) for e in q.evidence]
            budget = max(1, int(args.budget * len(search_items(tree))))
            budgets.append(budget)
            fracs.append(sum(e - s for s, e in ev) / max(1e-9, tree.duration))
            spans = [(lf.start, lf.end) for lf in leaves]

            order = sorted(range(len(leaves)), key=lambda i: -_overlap(spans[i], ev))
            best = max(((evidence_recall([spans[i] for i in order[:k]], ev), k) for k in range(1, budget + 1)),
                       key=lambda t: f1(visited_precision([spans[i] for i in order[:t[1]]], ev), t[0]))
            score("oracle", [spans[i] for i in order[:best[1]]], ev)
            pick = random.Random(n).sample(range(len(leaves)), min(budget, len(leaves)))
            score("random", [spans[i] for i in pick], ev)
            lv = np.asarray(emb.encode([lf.caption or "" for lf in leaves]), dtype=np.float32)
            qv = np.asarray(emb.encode([q.question, *(f"{q.question} {o}" for o in q.options)]), dtype=np.float32)
            lv /= np.linalg.norm(lv, axis=1, keepdims=True) + 1e-9
            qv /= np.linalg.norm(qv, axis=1, keepdims=True) + 1e-9
            sim = lv @ qv.T
            sims = {"sim:q": sim[:, 0], "sim:q+options": sim[:, 1:].max(1) if sim.shape[1] > 1 else sim[:, 0]}
            if q.truth is not None and sim.shape[1] > 1 + q.truth:
                sims["sim:q+truth"] = sim[:, 1 + q.truth]
            for name, s in sims.items():
                score(name, [spans[i] for i in np.argsort(-s)[:budget]], ev)
            if n % 50 == 0:
                print(f"{n}/{len(qs)}", file=sys.stderr, flush=True)
    print(f"{len(qs)} NExT-GQA {args.split} questions (seed {args.seed}); budget {args.budget:.0%} of searchable "
          f"items = {np.mean(budgets):.1f} clips on average; evidence = {np.mean(fracs):.1%} of a video "
          f"(median {np.median(fracs):.1%})")
    print("selection        recall  precision  F1     (target: recall >= 0.7, F1 >= 0.5)")
    for name, vals in rows.items():
        r, p, f = np.mean(vals, axis=0)
        print(f"{name:15s}  {r:.3f}   {p:.3f}      {f:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
