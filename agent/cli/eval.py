"""``videonav eval``: strategies side by side on a question set; prints the table, writes JSONL."""

from __future__ import annotations

import argparse
import json
import random
import sys

from videonav.agent.cli.common import add_common, load_run_config
from videonav.agent.evaluation.datasets import FORMATS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=[*FORMATS, "captions"], default="nextqa",
                   help="captions: score --predictions against --references (BLEU, METEOR, ROUGE-L, CIDEr-D, STS)")
    p.add_argument("--questions", default=None, help="questions file (CSV / JSON); required except for captions")
    p.add_argument("--references", default=None, help="captions: JSON {clip_id: [reference captions]}")
    p.add_argument("--predictions", default=None, help="captions: JSON {clip_id: caption} or JSONL id/caption")
    p.add_argument("--json", action="store_true", help="captions: print the scores as JSON")
    p.add_argument("--no-meteor", action="store_true", help="captions: skip METEOR (its Java start is slow)")
    p.add_argument("--per-video", action="store_true", help="captions: also print one row per clip")
    p.add_argument("--tokenizer", choices=["auto", "ptb", "simple"], default="auto",
                   help="captions: PTB (Java; auto = when Java runs) or simple lower-cased words")
    p.add_argument("--captions", default=None, help="caption zip or directory (nextqa/nextgqa/egoschema)")
    p.add_argument("--spans", default=None, help="nextgqa: gsub_val.json evidence spans")
    p.add_argument("--video", default=None, help="videonav format: the video the questions are about")
    p.add_argument("--strategy", default="all-captions,uniform-k,guided",
                   help="comma list of all-captions, uniform-k, search-k, navigate, guided")
    p.add_argument("--k", type=int, default=8, help="captions for uniform-k / search-k")
    p.add_argument("--limit", type=int, default=None, help="evaluate this many questions")
    p.add_argument("--split", choices=["all", "train", "dev"], default="all", help="NExT-QA video split")
    p.add_argument("--seed", type=int, default=0, help="question sampling seed (with --limit)")
    p.add_argument("--types", default=None, help="comma list of question types to keep (e.g. CW,TN)")
    p.add_argument("--output", default=None, help="JSONL, one record per question and strategy")
    p.add_argument("--policy", default=None, help="a trained policy checkpoint (sets planner.model)")
    add_common(p)
    p.add_argument("--by-type", action="store_true", help="also print the table per question type")


def main(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from videonav.agent.evaluation.datasets import load_questions
    from videonav.agent.evaluation.harness import evaluate, format_table, summarise
    from videonav.agent.runlog import save_run
    from videonav.agent.runtime import build_runtime
    from videonav.memory.split import split_of
    from videonav.tools.text_source import TextTreeSource, text_tree

    if args.format == "captions":
        return _captions(args)
    if not args.questions:
        print(f"videonav eval: --questions is required for --format {args.format}", file=sys.stderr)
        return 2
    policy = [f"planner.model={json.dumps(args.policy)}", "planner.backend=transformers"] if args.policy else []
    cfg = load_run_config(args, policy)
    questions, captions = load_questions(args.format, args.questions, args.captions, args.spans)
    if args.split != "all":
        questions = [q for q in questions if split_of(q.video) == args.split]
    if args.types:
        keep = set(args.types.split(","))
        questions = [q for q in questions if q.type in keep]
    if captions is not None:
        from videonav.memory.formats import CaptionSource

        have = set(CaptionSource(args.captions).ids()) if args.format in ("nextqa", "nextgqa") else None
        if have is not None:
            questions = [q for q in questions if q.video in have]
    if args.limit and args.limit < len(questions):
        questions = random.Random(args.seed).sample(questions, args.limit)
    strategies = [s.strip() for s in args.strategy.split(",") if s.strip()]
    from videonav.agent.strategies import needs_llm

    rt = build_runtime(cfg, need_llm=any(needs_llm(s, cfg, q.options) for s in strategies for q in questions))

    def source_for(video: str):  # noqa: ANN202
        if captions is not None:
            return TextTreeSource(text_tree(video, captions(video), cfg.tree, rt.embedder, rt.store), rt.embedder,
                                  cfg.planner.inspect_lines)
        from videonav.tools.video.index import open_source  # type: ignore[attr-defined]

        return open_source(args.video or video, cfg, rt.store, lazy=cfg.tree.lazy)

    with Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), transient=False, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("", total=len(questions) * len(strategies))
        records = evaluate(questions, source_for, strategies, cfg, rt.llm, rt.embedder, rt.scorer, args.k,
                           args.output, lambda d, t, msg: bar.update(task, completed=d, description=msg))
    rows = summarise(records)
    print(format_table(rows))
    if args.by_type:
        for strat in strategies:
            print(f"\n{strat} by question type")
            print(format_table(summarise([r for r in records if r["strategy"] == strat], by="type")))
    folder = save_run(rt.store, "eval", cfg, {"summary": rows, "n_questions": len(questions),
                                              "strategies": strategies, "args": vars(args)}, records)
    print(f"run saved to {folder}")
    return 0


def _captions(args: argparse.Namespace) -> int:
    """``--format captions``: caption metrics (agent/evaluation/caption_metrics.py), table or JSON."""
    from videonav.agent.evaluation.caption_metrics import (
        caption_scores,
        format_report,
        load_predictions,
        load_references,
    )

    if not args.references or not args.predictions:
        print("videonav eval --format captions needs --references REFS.json and --predictions PREDS.json[l]",
              file=sys.stderr)
        return 2
    from videonav.tools.embed import make_embedder

    try:
        embedder = make_embedder(load_run_config(args).embedder)  # --set embedder.model=... picks the STS model
        report = caption_scores(load_references(args.references), load_predictions(args.predictions),
                                meteor=not args.no_meteor, embedder=embedder, tokenizer=args.tokenizer)
    except ValueError as e:  # bad files: one line naming the problem and the fix
        print(f"videonav eval: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=1) if args.json else format_report(report, args.per_video))
    return 0
