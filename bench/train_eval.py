"""Before/after table of navigation policies on the dev split: untrained SmolLM2, after SFT, after SFT+GRPO.

Run (from the repo root; ../shared/data present):

    # 1. train (train split only; see rl/configs/*.yaml)
    videonav train sft  --config rl/configs/sft_smollm2.yaml
    videonav train grpo --config rl/configs/grpo_smollm2.yaml --model runs/sft_smollm2/model
    videonav train sft  --config rl/configs/sft_reads_smollm2.yaml      # the scorer-aware teacher
    # 2. evaluate them on the same dev questions and print the table (one process per policy
    #    with OMP_NUM_THREADS=1 runs them side by side; --summarise joins the files afterwards)
    python bench/train_eval.py --n 200 --set planner.dtype=bfloat16 \
        --sft runs/sft_smollm2/model --grpo runs/grpo_smollm2/model \
        --policy sft-reads=runs/sft_reads_smollm2/model

Each policy runs through ``videonav.agent.evaluation.harness.evaluate`` (strategy ``navigate``:
the LLM alone picks actions, constrained decoding, the same option scorer and budgets), so only
``planner.model`` differs. Every per-question record is written to ``--out/<policy>.jsonl`` as
it is produced; ``--summarise A.jsonl B.jsonl ...`` rebuilds the table from such files (also
from ``videonav eval --output`` files), restricted to the questions *every* file completed, so
an interrupted run still compares policies on identical questions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def summarise_files(files: list[str], names: list[str] | None = None) -> str:
    from videonav.agent.evaluation.harness import format_table, summarise
    from videonav.rl.evaluate import COLUMNS

    per: list[list[dict]] = []
    for f in files:
        per.append([json.loads(x) for x in Path(f).read_text(encoding="utf-8").splitlines() if x.strip()])
    common = set.intersection(*({r["qid"] for r in rs} for rs in per)) if per else set()
    rows = []
    for i, rs in enumerate(per):
        name = names[i] if names and i < len(names) else Path(files[i]).stem
        keep = [dict(r, policy=name) for r in rs if r["qid"] in common]
        if keep:
            row = summarise(keep, by="policy")[0]
            rows.append({"policy": name, **{k: row[k] for k in COLUMNS if k in row}})
    return format_table(rows) + f"\n(n = {len(common)} dev questions completed by every policy)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="dev questions (seeded sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--videos", type=int, default=None, help="first sample this many dev videos (all their questions)")
    p.add_argument("--sft", default=None, help="SFT policy dir (runs/sft_smollm2/model)")
    p.add_argument("--grpo", default=None, help="SFT+GRPO policy dir (runs/grpo_smollm2/model)")
    p.add_argument("--policy", action="append", default=[], metavar="NAME=DIR",
                   help="another policy to compare (repeatable), e.g. sft-reads=runs/sft_reads_smollm2/model")
    p.add_argument("--out", default="runs/train_eval", help="per-policy JSONL records")
    p.add_argument("--store", default=None)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="RunConfig override for every policy, e.g. planner.dtype=bfloat16 (repeatable)")
    p.add_argument("--run", default="untrained,sft,sft+grpo",
                   help="which policies to run now (comma list; run them in parallel processes if you like)")
    p.add_argument("--summarise", nargs="+", default=None, metavar="JSONL",
                   help="only print the table from existing record files")
    p.add_argument("--names", default=None, help="comma list of policy names for --summarise")
    args = p.parse_args()
    if args.summarise:
        print(summarise_files(args.summarise, args.names.split(",") if args.names else None))
        return 0

    from videonav.agent.config import load_config
    from videonav.memory.store import Store
    from videonav.rl.data import DataPaths, TreeBank, load_split
    from videonav.rl.evaluate import compare
    from videonav.tools.embed import make_embedder

    cfg = load_config(None, list(args.set) + ([f"store.path={args.store}"] if args.store else []))
    paths = DataPaths()
    if paths.missing():
        print(f"missing {paths.missing()}", file=sys.stderr)
        return 1
    questions = load_split(paths, "dev", args.n, args.seed, max_videos=args.videos)
    emb = make_embedder(cfg.embedder)
    bank = TreeBank(paths, cfg.tree, emb, Store(cfg.store.path))
    wanted = set(args.run.split(","))
    policies: dict[str, str | None] = {"untrained": None, "sft": args.sft, "sft+grpo": args.grpo}
    for spec in args.policy:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            p.error(f"--policy wants NAME=DIR, got {spec!r}")
        policies[name] = path
        wanted.add(name)
    policies = {k: v for k, v in policies.items() if k in wanted and (k == "untrained" or v)}
    compare(policies, questions, cfg, bank, args.out,
            lambda name, d, t: print(f"\r{name} {d}/{t}", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    print(summarise_files([str(Path(args.out) / f"{n}.jsonl") for n in policies], list(policies)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
