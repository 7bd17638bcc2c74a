"""The evaluation harness behind ``videonav eval`` and bench/: strategies side by side, one run.

Each video's tree is built once (and cached in the store) and every strategy answers every
question on it, so accuracy and cost differences are measured on identical inputs. One flat
JSON record per (question, strategy); grounding metrics are added when the question has
evidence spans (NExT-GQA, our sample video).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.evaluation.datasets import Question
from videonav.agent.evaluation.metrics import grounding_fields, text_correct
from videonav.agent.llm.base import LLM
from videonav.agent.planner import Planner
from videonav.agent.result import AskResult
from videonav.agent.strategies import run_strategy
from videonav.memory.source import TreeSource
from videonav.tools.embed import Embedder

Progress = Callable[[int, int, str], None]


def record(q: Question, res: AskResult, total_captions: int) -> dict[str, Any]:
    """The flat per-question record (``--output`` JSONL line)."""
    correct: bool | None = None  # None: the question file gives no answer to score against
    if q.options:
        correct = (res.option_index == q.truth) if q.truth is not None else None
    elif q.truth_text:  # free text: the truth string in the answer
        correct = text_correct(res.answer, q.truth_text)
    visited = [(s.start, s.end) for s in res.visited]
    cited = [(s.start, s.end) for s in res.evidence]
    rec: dict[str, Any] = {
        "qid": q.qid, "video": q.video, "type": q.type, "strategy": res.strategy,
        "question": q.question, "prediction": res.option_index if q.options else res.answer,
        "answer": res.answer, "truth": q.truth if q.options else q.truth_text,
        "correct": None if correct is None else bool(correct),
        "format": "mc" if q.options else "free",
        "answer_span": ({"node_id": res.evidence[0].node_id, "start": res.evidence[0].start, "end": res.evidence[0].end}
                        if res.evidence and not q.options else None),
        "confidence": round(res.confidence, 4), "halted_by": res.halted_by,
        "captions_read": res.cost.captions_read, "total_captions": total_captions,
        "read_fraction": round(res.cost.captions_read / max(1, total_captions), 4),
        "tool_calls": res.cost.total_tool_calls, "tool_calls_by_name": res.cost.tool_calls,
        "rounds": res.cost.rounds, "invalid_actions": res.cost.invalid_actions,
        "tokens": res.cost.tokens, "seconds": round(res.cost.seconds, 3),
        "captions_built": res.cost.captions_built,
        "visited_spans": [list(v) for v in visited], "evidence_spans": [list(c) for c in cited],
        "trace": [s.model_dump(exclude={"observation"}) for s in res.trace],
    }
    if q.evidence:
        rec.update(grounding_fields(bool(correct), visited, cited, list(q.evidence)))
        # the same on fine reads only (clip captions and verbatim lines, not part summaries)
        fine = [(s.start, s.end) for s in res.visited if s.kind != "summary"]
        g = grounding_fields(bool(correct), fine, cited, list(q.evidence))
        rec.update({"fine_recall": g["evidence_recall"], "fine_precision": g["visited_precision"],
                    "fine_f1": g["grounding_f1"]})
    return rec


def evaluate(questions: list[Question], source_for: Callable[[str], TreeSource], strategies: list[str],
             cfg: RunConfig, llm: LLM | None, embedder: Embedder, scorer: Any, k: int = 8,
             output: Path | str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run every strategy on every question; writes JSONL as it goes (an interrupted run keeps its lines)."""
    by_video: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_video[q.video].append(q)
    planners: dict[str, Planner] = {}
    records: list[dict[str, Any]] = []
    out = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115 - closed below
    done, total = 0, len(questions) * len(strategies)
    try:
        for vid, qs in by_video.items():
            source = source_for(vid)
            from videonav.agent.observe import search_items

            n_caps = len(search_items(source.tree))
            for q in qs:
                for strat in strategies:
                    res = run_strategy(strat, source, q.question, q.options, cfg, llm, embedder, scorer, k, planners)
                    rec = record(q, res, n_caps)
                    records.append(rec)
                    if out:
                        out.write(json.dumps(rec) + "\n")
                        out.flush()
                    done += 1
                    if progress:
                        progress(done, total, f"{strat} {q.qid}")
    finally:
        if out:
            out.close()
    return records


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.fmean(xs) if xs else float("nan")


def summarise(records: list[dict[str, Any]], by: str = "strategy") -> list[dict[str, Any]]:
    """One row per group: accuracy, cost, and grounding means where present."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r[by])].append(r)
    rows = []
    for name, rs in groups.items():
        scored = [float(r["correct"]) for r in rs if r.get("correct") is not None]
        row: dict[str, Any] = {by: name, "n": len(rs), "accuracy": _mean(scored) if scored else None,
                               "captions_read": _mean(r["captions_read"] for r in rs),
                               "read_fraction": _mean(r["read_fraction"] for r in rs),
                               "tool_calls": _mean(r["tool_calls"] for r in rs),
                               "tokens": _mean(r["tokens"] for r in rs),
                               "seconds": _mean(r["seconds"] for r in rs)}
        if any("grounding_f1" in r for r in rs):
            g = [r for r in rs if "grounding_f1" in r]
            for key in ("evidence_recall", "visited_precision", "grounding_f1", "fine_recall", "fine_precision",
                        "fine_f1", "iop", "iou", "acc_gqa"):
                row[key] = _mean(float(r[key]) for r in g)
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain fixed-width table (what bench/ scripts and ``videonav eval`` print)."""
    if not rows:
        return "(no results)"
    cols = list(rows[0].keys())
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]

    def fmt(v: Any) -> str:
        if v is None:  # e.g. accuracy of questions that come without answers
            return "n/a"
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
