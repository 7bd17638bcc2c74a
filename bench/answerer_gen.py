"""Generated sample videos as option-scorer data: what a reader sees near each question.

Used by ``bench/fit_answerer.py``. Each seed's 10-minute sample video is written by
``videonav.tools.video.sample_video`` and indexed with the default (classic) captioner into
``<root>/s<seed>/store.sqlite`` once; later runs reuse it. For every question three reading
conditions mirror what the planner can have in front of it:

* ``all``: every leaf caption with its subtitle lines, in time order (the all-captions reader);
* ``nav``: the top-level part summaries, the summaries on the path down to the evidence leaf,
  then the evidence leaf and three random other leaves in time order, the evidence leaf's lines
  last (a guided/navigate read of ~12 texts);
* ``noev``: the top-level summaries and four random leaves that do not overlap the evidence (the
  evidence was not reached: confidence should be low, which halting depends on).

Seeds 100-199 are for fitting, 200-299 for held-out evaluation; others are kept for checks.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

GEN_CONDS = ["all", "nav", "noev"]


def ensure_sample(seed: int, root: Path, minutes: float = 10.0) -> Path:
    """Write and index the sample video of ``seed`` under ``root/s<seed>`` unless already done."""
    d = root / f"s{seed}"
    if (d / "done").exists():
        return d
    from videonav.agent.config import load_config
    from videonav.memory.store import Store
    from videonav.tools.captioners.base import make_captioner
    from videonav.tools.video.index import index_video
    from videonav.tools.video.sample_video import main as make_sample

    make_sample(["--minutes", f"{minutes:g}", "--seed", str(seed), "--out", str(d)])
    cfg = load_config(overrides=[f"store.path={json.dumps(str(d / 'store.sqlite'))}"])
    with Store(cfg.store.path) as store:
        index_video(d / f"sample_{minutes:g}min.mp4", store=store, video=cfg.video, tree=cfg.tree,
                    captioner=cfg.captioner, embedder=cfg.embedder, lazy=False,
                    captioner_impl=make_captioner(cfg.captioner))
    (d / "done").write_text("ok\n")
    return d


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def question_texts(seed: int, root: Path, minutes: float = 10.0) -> list[dict]:
    """One record per question: question, options, answer, type, seed and {cond: texts}."""
    from videonav.memory.store import Store

    d = ensure_sample(seed, root, minutes)
    qs = json.loads((d / f"sample_{minutes:g}min.questions.json").read_text(encoding="utf-8"))
    with Store(d / "store.sqlite") as store:
        tree = store.load_tree(store.tree_keys()[0])
    leaves = tree.leaves()
    top = [n.caption or "" for n in tree.children(tree.root.id)]
    rng = random.Random(seed)
    out = []
    for q in qs:
        ev = (float(q["evidence"][0][0]), float(q["evidence"][0][1]))
        best = max(leaves, key=lambda n: _overlap((n.start, n.end), ev))
        others = [n for n in leaves if _overlap((n.start, n.end), ev) <= 0]
        all_texts = [t for n in leaves for t in [n.caption or "", *(ln.text for ln in n.lines)]]
        path = [a.caption or "" for a in reversed(tree.ancestors(best.id)) if a.level >= 2]
        picked = sorted([best, *rng.sample(others, min(3, len(others)))], key=lambda n: n.start)
        nav = top + path + [n.caption or "" for n in picked] + [ln.text for ln in best.lines]
        noev = top + [n.caption or "" for n in sorted(rng.sample(others, min(4, len(others))),
                                                       key=lambda n: n.start)]
        conds = {"all": all_texts, "nav": nav, "noev": noev}
        out.append({"seed": seed, "qid": q["qid"], "type": q["type"], "question": q["question"],
                    "options": list(q["options"]), "answer": int(q["answer"]),
                    "texts": {c: list(dict.fromkeys(t for t in v if t.strip())) for c, v in conds.items()}})
    return out


def parse_seeds(spec: str) -> list[int]:
    """``"100-115,120"`` -> [100, ..., 115, 120]."""
    out: list[int] = []
    for part in spec.split(","):
        if part.strip():
            a, _, b = part.partition("-")
            out += list(range(int(a), int(b or a) + 1))
    return out
