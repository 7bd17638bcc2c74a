"""``videonav train captioner-sft|captioner-rl --config FILE``: the captioner loops behind the train verb.

Shares the train verb's options: ``--output`` (run folder), ``--model`` (captioner-rl: the SFT
model to start from), ``--max-steps`` and ``--resume``. Bad configs or missing data end in one
line naming the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import sys


def main(args: argparse.Namespace) -> int:
    from videonav.rl.captioner.config import load_captioner_config
    from videonav.rl.captioner.train import train_scst, train_sft

    rl = args.kind == "captioner-rl"
    try:
        cfg = load_captioner_config(args.config or "captioner_sft", {
            "output": args.output, "train.steps": args.max_steps, "rl.init": args.model if rl else None,
            "model.text_model": None if rl else args.model})

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        result = (train_scst if rl else train_sft)(cfg, resume=args.resume, log=log)
    except ValueError as e:
        print(f"videonav train {args.kind}: error: {e}", file=sys.stderr)
        return 1
    print(f"captioner saved to {result['model_dir']}")
    print(f"index with it: videonav index VIDEO --captioner transformers --model {result['model_dir']}")
    return 0
