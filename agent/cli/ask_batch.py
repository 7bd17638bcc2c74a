"""``videonav ask --questions FILE``: many questions in one run, one JSON answer per line.

Why a batch form: ``ask`` used to join every word after the video into one question, so two
questions became one nonsense question; and asking them one call at a time loads the planner
LLM and the embedder each time. Here they are loaded once and each question is answered on its
own. The file is JSON (a list, or ``{"questions": [...]}``) or JSONL; an item is a question
string or ``{"question", "options"?, "video"?, "tree"?, "qid"?}`` (``video``/``tree`` default
to the ones on the command line). A question that cannot be answered gets an ``error`` line
and the rest still run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from videonav.agent.errors import user_message


class QuestionFileError(ValueError):
    """The questions file cannot be read as questions; the message names the line and the fix."""

    user_error = True


def _item(raw: Any, where: str, n: int) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"question": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
        raise QuestionFileError(f"{where}: each item must be a question string or an object with a "
                                "\"question\" string")
    opts = raw.get("options")
    if opts is not None and (not isinstance(opts, list) or not all(isinstance(o, str) for o in opts)):
        raise QuestionFileError(f"{where}: \"options\" must be a list of strings")
    out = {"qid": str(raw.get("qid", raw.get("id", n))), "question": raw["question"], "options": opts or []}
    for key in ("video", "tree"):
        if raw.get(key) is not None:
            out[key] = str(raw[key])
    return out


def read_questions(path: Path | str) -> list[dict[str, Any]]:
    """Question rows from a JSON or JSONL file (see the module docstring).

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "q.jsonl")
    >>> _ = open(f, "w").write('"what is shown?"\\n{"qid": "q2", "question": "who?", "options": ["a", "b"]}\\n')
    >>> [(q["qid"], q["question"], q["options"]) for q in read_questions(f)]
    [('1', 'what is shown?', []), ('q2', 'who?', ['a', 'b'])]
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionFileError(f"{p}: cannot read the questions file ({type(e).__name__}); pass a JSON or "
                                "JSONL file") from None
    try:
        data = json.loads(text)
        items = data.get("questions") if isinstance(data, dict) else data
        if isinstance(items, (str, dict)) and not isinstance(data, dict):
            items = [items]
        if not isinstance(items, list):
            raise QuestionFileError(f"{p}: expected a list of questions (or {{\"questions\": [...]}})")
        rows = [_item(x, f"{p} item {i}", i) for i, x in enumerate(items, start=1)]
    except json.JSONDecodeError:  # JSONL: one JSON value per non-empty line
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(_item(json.loads(line), f"{p} line {i}", len(rows) + 1))
            except json.JSONDecodeError as e:
                raise QuestionFileError(f"{p} line {i}: not JSON ({e.msg}); write one question object or "
                                        "string per line") from None
    if not rows:
        raise QuestionFileError(f"{p}: no questions in the file")
    return rows


def run_batch(args: argparse.Namespace, cfg: Any, video: str | None, tree_ref: str | None) -> int:
    """Answer every question of ``args.questions``; JSONL to ``args.output`` or stdout."""
    from videonav.agent.inputs import check_question
    from videonav.agent.runlog import save_run
    from videonav.agent.runtime import build_runtime
    from videonav.agent.sources import load_tree, question_source
    from videonav.agent.strategies import needs_llm, run_strategy

    rows = read_questions(args.questions)
    for q in rows:  # every question checked before any model is loaded
        q["options"] = q["options"] or list(args.options or [])
        try:
            check_question(q["question"], q["options"])
        except ValueError as e:
            raise QuestionFileError(f"{args.questions}: question {q['qid']!r}: {e}") from None
        if not (q.get("video") or video or q.get("tree") or tree_ref):
            raise QuestionFileError(f"{args.questions}: question {q['qid']!r} has no video or tree; give VIDEO or "
                                    "--tree on the command line, or \"video\"/\"tree\" in the item")
    rt = build_runtime(cfg, need_llm=any(needs_llm(args.strategy, cfg, q["options"]) for q in rows))
    sources: dict[tuple[str, str], Any] = {}
    out: TextIO = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    failed = 0
    results: list[dict[str, Any]] = []
    try:
        for q in rows:
            kind, ref = ("video", q.get("video") or video) if (q.get("video") or (video and not q.get("tree"))) \
                else ("tree", q.get("tree") or tree_ref)
            try:
                if (kind, str(ref)) not in sources:
                    tree = None if kind == "video" else load_tree(str(ref), rt.store, cfg)[1]
                    sources[(kind, str(ref))] = question_source(ref if kind == "video" else None, tree, cfg,
                                                                rt.store, rt.embedder)
                res = run_strategy(args.strategy, sources[(kind, str(ref))], q["question"], q["options"], cfg,
                                   rt.llm, rt.embedder, rt.scorer, k=cfg.budget.max_captions)
                row = {"qid": q["qid"], kind: str(ref), **res.model_dump(exclude={"trace"})}
            except Exception as e:  # one bad question does not end the batch
                msg = user_message(e, None)
                if msg is None:
                    raise
                failed += 1
                row = {"qid": q["qid"], kind: str(ref), "question": q["question"], "error": msg}
                print(f"videonav ask: question {q['qid']!r}: {msg}", file=sys.stderr)
            results.append(row)
            out.write(json.dumps(row, default=str) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
        for src in sources.values():
            close = getattr(src, "close", None)
            if callable(close):
                close()
    folder = save_run(rt.store, "ask", cfg, {"questions": len(rows), "failed": failed, "results": results}, [])
    print(f"{len(rows) - failed}/{len(rows)} questions answered; run saved to {folder}", file=sys.stderr)
    return 1 if failed else 0
