"""Before/after evaluation of navigation policies on the dev split.

No second harness: every policy runs through :func:`videonav.agent.evaluation.harness.evaluate` with the
``navigate`` strategy (the LLM alone chooses actions, ``planner.prior="none"``), constrained
decoding (every legal action scored by the policy's log-likelihood) and the same option
scorer, questions, trees and budgets; only ``planner.model`` changes. So accuracy, captions
read and tool calls differ only because the policy chose different actions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.evaluation.datasets import Question
from videonav.agent.evaluation.harness import Progress, evaluate, summarise
from videonav.rl.data import TreeBank

#: What a policy column of the before/after table reports (summarise() keys).
COLUMNS = ("n", "accuracy", "captions_read", "read_fraction", "tool_calls", "seconds")


def policy_config(base: RunConfig, policy: str | None) -> RunConfig:
    """``base`` with the policy as planner: transformers backend, navigate, constrained decoding.

    ``policy=None`` is the untrained SmolLM2 default.
    """
    upd = {"backend": "transformers", "model": policy, "gguf_file": None, "prior": "none",
           "decoding": "constrained"}
    return base.model_copy(update={"planner": base.planner.model_copy(update=upd)})


def evaluate_policy(name: str, policy: str | None, questions: Sequence[Question], base: RunConfig,
                    bank: TreeBank, output: Path | str | None = None,
                    progress: Progress | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary row labelled ``policy=name``, per-question records) for one policy."""
    from videonav.agent.llm.base import make_llm
    from videonav.agent.scorer import load_default_scorer
    from videonav.tools.text_source import TextTreeSource

    cfg = policy_config(base, policy)
    llm = make_llm(cfg.planner)
    scorer = load_default_scorer(bank.embedder)

    def source_for(video: str) -> TextTreeSource:
        return TextTreeSource(bank.tree(video), bank.embedder, cfg.planner.inspect_lines)

    records = evaluate(list(questions), source_for, ["navigate"], cfg, llm, bank.embedder, scorer,
                       output=output, progress=progress)
    for r in records:
        r["policy"] = name
    rows = summarise(records, by="policy")
    row = rows[0] if rows else {"policy": name, "n": 0}
    return row, records


def compare(policies: dict[str, str | None], questions: Sequence[Question], base: RunConfig, bank: TreeBank,
            out_dir: Path | str | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> list[dict[str, Any]]:
    """One summary row per policy, in the order given (JSONL per policy under ``out_dir``)."""
    rows = []
    for name, path in policies.items():
        out = Path(out_dir) / f"{name}.jsonl" if out_dir else None
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        prog = (lambda d, t, _m, _n=name: progress(_n, d, t)) if progress else None
        row, _ = evaluate_policy(name, path, questions, base, bank, out, prog)
        rows.append(row)
    return rows
