"""``videonav train sft|grpo --config FILE``: trajectories/prompts from the train split, then TRL.

Resumable: trajectories are written to ``<output>/trajectories.jsonl`` once and reused; the
trainers save ``checkpoint-N`` every ``trainer.save_steps`` and ``--resume`` continues from
the newest one. The final policy lands in ``<output>/model``, ready for
``videonav eval --policy <output>/model --strategy navigate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from videonav.agent.cli.common import add_common


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=["sft", "grpo", "captioner-sft", "captioner-rl"],
                   help="sft: trajectories + SFTTrainer; grpo: GRPOTrainer; captioner-sft / captioner-rl: the "
                        "video captioner (rl/captioner, SFT then SCST; configs rl/configs/captioner_*.yaml)")
    p.add_argument("--limit", type=int, default=None, help="train questions (seeded sample of train)")
    p.add_argument("--output", default=None, help="output dir (checkpoints, trajectories, model/)")
    p.add_argument("--model", default=None, help="start from this model dir (e.g. the SFT output's model/)")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (trainer.max_steps)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    add_common(p, config_help="training config YAML (rl/sft_config.py, grpo_config.py)",
               store_help="SQLite store holding the caption trees")


def _progress_callback() -> Any:
    from transformers import TrainerCallback

    class Echo(TrainerCallback):  # type: ignore[misc]
        """One line per log event on stderr (the library itself never prints)."""

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kw: Any) -> None:
            keep = {k: v for k, v in (logs or {}).items()
                    if k in ("loss", "reward", "reward_std", "learning_rate", "mean_token_accuracy",
                             "tools/call_frequency", "train_runtime", "step_time")}
            print(f"[train] step {state.global_step}/{state.max_steps} {json.dumps(keep)}", file=sys.stderr,
                  flush=True)

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            print(f"[train] checkpoint at step {state.global_step}", file=sys.stderr, flush=True)

    return Echo()


def main(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from videonav.agent.cli.common import run_overrides
    from videonav.agent.config import load_config
    from videonav.memory.store import Store
    from videonav.rl.data import DataPaths, TreeBank, load_split
    from videonav.rl.grpo_config import GRPORunConfig
    from videonav.rl.sft_config import SFTRunConfig, load_run_config
    from videonav.tools.embed import make_embedder

    if args.kind.startswith("captioner-"):
        from videonav.rl.captioner.cli import main as captioner_main

        return captioner_main(args)
    cls = SFTRunConfig if args.kind == "sft" else GRPORunConfig
    cfg = load_run_config(cls, args.config, {"data.limit": args.limit, "output": args.output,
                                             "model.path": args.model})
    extra = {"max_steps": args.max_steps} if args.max_steps else {}
    sets = [*cfg.videonav_set, *run_overrides(args)]  # --set/--store apply to the episodes' RunConfig
    run_cfg = load_config(cfg.videonav_config, sets)
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.kind}_config.json").write_text(cfg.model_dump_json(indent=2), encoding="utf-8")
    paths = DataPaths(cfg.data.questions, cfg.data.captions, cfg.data.spans)
    if paths.missing():
        print(f"videonav train: missing data files {paths.missing()}", file=sys.stderr)
        return 1
    embedder = make_embedder(run_cfg.embedder)
    bank = TreeBank(paths, run_cfg.tree, embedder, Store(run_cfg.store.path))
    questions = load_split(paths, "train", cfg.data.limit, cfg.data.seed,
                           set(cfg.data.types) if cfg.data.types else None, cfg.data.max_videos)
    print(f"[train] {len(questions)} train questions on {len({q.video for q in questions})} videos",
          file=sys.stderr)
    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("trees", total=None)
        bank.warm([q.video for q in questions], lambda d, t: bar.update(task, completed=d, total=t))
    if args.kind == "sft":
        return _sft(cfg, run_cfg, questions, bank, embedder, out, args.resume, extra)
    return _grpo(cfg, run_cfg, questions, bank, embedder, args.resume, extra)


def _sft(cfg: Any, run_cfg: Any, questions: list[Any], bank: Any, embedder: Any, out: Path, resume: bool,
         extra: dict[str, Any]) -> int:
    from videonav.rl.sft import train_sft
    from videonav.rl.trajectories import LLMTeacher, OracleTeacher, ReadsTeacher, build_rows, to_dataset

    traj = out / "trajectories.jsonl"
    if traj.is_file() and resume:
        rows = [json.loads(x) for x in traj.read_text(encoding="utf-8").splitlines() if x.strip()]
    else:
        if cfg.teacher == "oracle":
            teacher: Any = OracleTeacher(run_cfg, embedder, reasoning=cfg.reasoning)
        elif cfg.teacher == "reads":
            from videonav.agent.scorer import load_default_scorer

            teacher = ReadsTeacher(run_cfg, embedder, load_default_scorer(embedder))
        else:
            from videonav.agent.llm.base import make_llm

            teacher = LLMTeacher(run_cfg, make_llm(run_cfg.planner), embedder, cfg.hint_attempts)
        rows = build_rows(questions, bank.tree, teacher)
        traj.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"[train] {len(rows)} trajectories ({traj})", file=sys.stderr)
    if not rows:
        print("videonav train: the teacher solved no question; nothing to train on", file=sys.stderr)
        return 1
    model_dir = train_sft(cfg, to_dataset(rows), resume=resume, callbacks=[_progress_callback()],
                          extra_args=extra)
    print(f"policy saved to {model_dir}")
    print(f"evaluate: videonav eval --split dev --strategy navigate --policy {model_dir} ...")
    return 0


def _grpo(cfg: Any, run_cfg: Any, questions: list[Any], bank: Any, embedder: Any, resume: bool,
          extra: dict[str, Any]) -> int:
    from videonav.rl.grpo import prompt_rows, to_prompt_dataset, train_grpo

    scorer = None
    if cfg.use_scorer:
        from videonav.agent.scorer import load_default_scorer

        scorer = load_default_scorer(embedder)
    ds = to_prompt_dataset(prompt_rows(questions, bank.tree))
    model_dir = train_grpo(cfg, run_cfg, ds, bank.tree, embedder, scorer, resume=resume,
                           callbacks=[_progress_callback()], extra_args=extra)
    print(f"policy saved to {model_dir}")
    print(f"evaluate: videonav eval --split dev --strategy navigate --policy {model_dir} ...")
    return 0
