"""``videonav ask [VIDEO] QUESTION [--tree FILE] [--options ...]``: one question, with its evidence and cost;
``videonav ask [VIDEO] --questions FILE``: many (``ask_batch``), one JSON answer per line."""

from __future__ import annotations

import argparse
import json
import sys

from videonav.agent.actions import LETTERS
from videonav.agent.cli.common import add_common, load_run_config
from videonav.agent.result import AskResult
from videonav.memory.timefmt import clock


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = ("videonav ask [VIDEO] QUESTION [options]\n"
               "       videonav ask [VIDEO] --questions FILE [-o OUT.jsonl] [options]")
    p.add_argument("args", nargs="*", metavar="[VIDEO] QUESTION",
                   help="a video path (unless --tree) and ONE question, quoted")
    p.add_argument("--questions", default=None, metavar="FILE",
                   help="JSON or JSONL of questions (strings or {question, options, video, tree, qid}); "
                        "answers as JSONL on stdout or -o")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="--questions: write the JSONL answers here")
    p.add_argument("--tree", default=None, help="a caption file or tree JSON, or a tree key in the store")
    p.add_argument("--options", nargs="+", default=None, help="multiple-choice options")
    p.add_argument("--strategy", default="guided", choices=["guided", "navigate", "all-captions", "uniform-k",
                                                             "search-k"])
    p.add_argument("--json", action="store_true", help="print the full AskResult as JSON")
    add_common(p)


def excerpt(text: str, answer: str, width: int = 100) -> str:
    """``width`` characters of an evidence text, around the answer when the text states it past
    the cut (a part summary that names its chapter heading first and the slide's number later).

    >>> excerpt("On-screen text: " + "x" * 120 + ' "INSECTS 1 | NUMBER 8639" on white.', "8639", 40)
    '…"INSECTS 1 | NUMBER 8639" on white.'
    >>> excerpt("short text", "8639")
    'short text'
    """
    if len(text) <= width:
        return text
    at = text.lower().find(answer.lower()) if answer.strip() else -1
    if at < 0 or at + len(answer) <= width:
        return text[:width]
    start = max(0, at - width // 2)
    start = max(text.rfind(" ", 0, start) + 1, text.rfind('"', 0, at), start - 20) if start else 0
    cut = text[start:start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")


def render(res: AskResult) -> str:
    out = []
    for s in res.trace:
        args = ", ".join(f"{k}={v!r}" for k, v in s.arguments.items() if k != "query" or s.action == "search")
        conf = f"  conf {s.confidence:.2f}" if s.confidence is not None else ""
        out.append(f"  round {s.round}: {s.action}({args})  +{s.reads} captions{conf}"
                   + ("" if s.valid else "  [invalid]"))
    out.append(f"Answer: {res.answer}" + (f"  (option {LETTERS[res.option_index]})" if res.option_index is not None
                                         and res.options else ""))
    from videonav.agent.extract import NOT_FOUND

    if not res.options and res.evidence and res.answer != NOT_FOUND:  # free text: the read it came from
        e = res.evidence[0]
        out.append(f"Answer from: [{e.node_id}] {clock(e.start)}-{clock(e.end)}")
    out.append(f"Confidence: {res.confidence:.2f}  (halted by {res.halted_by})")
    for e in res.evidence:
        out.append(f"Evidence: [{e.node_id}] {clock(e.start)}-{clock(e.end)}  {excerpt(e.text or '', res.answer)}")
    c = res.cost
    out.append(f"Cost: {c.rounds} rounds, tool calls {c.tool_calls or {}}, {c.captions_read} captions read, "
               f"{c.captions_built} captions built, {c.prompt_tokens}+{c.completion_tokens} tokens, {c.seconds:.1f} s "
               f"(LLM {c.llm_seconds:.1f} s, tools {c.tool_seconds:.1f} s, captioning {c.caption_seconds:.1f} s)")
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    from videonav.agent.runlog import save_run
    from videonav.agent.runtime import build_runtime
    from videonav.agent.sources import load_tree, question_source
    from videonav.agent.strategies import needs_llm, run_strategy

    cfg = load_run_config(args)
    if args.questions:
        if len(args.args) > (0 if args.tree else 1):
            print("videonav ask: with --questions FILE give at most a VIDEO (or --tree), not a question",
                  file=sys.stderr)
            return 2
        from videonav.agent.cli.ask_batch import run_batch

        return run_batch(args, cfg, None if args.tree else (args.args[0] if args.args else None), args.tree)
    want = 1 if args.tree else 2
    if len(args.args) != want:
        if len(args.args) < want:
            print("videonav ask: give VIDEO and QUESTION, or --tree FILE and QUESTION", file=sys.stderr)
        else:
            print(f"videonav ask: {len(args.args) - want + 1} questions given; ask one (quote it: \"what is "
                  "shown?\"), or many with --questions FILE", file=sys.stderr)
        return 2
    video = None if args.tree else args.args[0]
    question = args.args[-1]
    from videonav.agent.inputs import check_question

    check_question(question, args.options)  # before any model is loaded
    if video is not None:
        from videonav.tools.video.probe import probe

        probe(video)
    rt = build_runtime(cfg, need_llm=needs_llm(args.strategy, cfg, args.options or []))
    key, tree = load_tree(args.tree, rt.store, cfg) if video is None else (None, None)
    source = question_source(video, tree, cfg, rt.store, rt.embedder)
    key = source.tree_key or key
    res = run_strategy(args.strategy, source, question, list(args.options or []), cfg, rt.llm, rt.embedder,
                       rt.scorer, k=cfg.budget.max_captions)
    folder = save_run(rt.store, "ask", cfg, res.model_dump(exclude={"trace"}),
                      [s.model_dump() for s in res.trace], key)
    if args.json:
        print(json.dumps(res.model_dump(), indent=1))
    else:
        print(render(res))
        print(f"Run saved to {folder}")
    return 0
