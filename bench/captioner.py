"""Captioner bench: classic vs SFT vs SFT+SCST on held-out generated videos (seeds 200-299).

Trains the captioner (rl/configs/captioner_sft.yaml, with the step/batch/data sizes given here),
then SCST from it, captions the held-out clips with each of the three, and writes:
caption metrics (BLEU-4, METEOR, ROUGE-L, CIDEr-D, STS), training wall/CPU time and peak RSS,
and the fraction of clips whose caption names the right shape / slide colour (the facts behind
the colour-shape questions; the classic captioner cannot see shapes).

    OMP_NUM_THREADS=1 python bench/captioner.py --sft-steps 8 --rl-steps 2 --out bench/results/captioner.txt
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from videonav.agent.evaluation.caption_metrics import caption_scores, java_available
from videonav.rl.captioner.config import load_captioner_config
from videonav.rl.captioner.data import colour_name
from videonav.rl.captioner.train import caption_pairs, pairs_for, train_scst, train_sft
from videonav.tools.video import sample_video as sv

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "yellow", "orange", "purple", "pink", "cyan", "white", "blue", "grey", "brown",
           "teal", "violet")


def facts_named(preds: dict[str, str], minutes: float) -> tuple[float, float, float]:
    """(shape right, colour right, bright right): share of clips whose caption names exactly the true
    shape / colour, and of the bright ("red slide") clips, the ones the colour-shape questions ask
    about, whose caption names both their colour and their shape."""
    plans: dict[int, list[dict]] = {}
    shape_ok = colour_ok = bright = bright_ok = 0
    for cid, text in preds.items():
        seed, idx = (int(x) for x in re.match(r"s(\d+)_(\d+)", cid).groups())  # type: ignore[union-attr]
        scene = plans.setdefault(seed, sv.plan(minutes, seed)["scenes"])[idx]
        words = set(re.findall(r"[a-z]+", text.lower()))
        shapes = {s for s in SHAPES if s in words}
        shape_ok += shapes == {scene["shape"]}
        true_colour = colour_name(scene).split()[-1]
        colours = {c for c in COLOURS if c in words}
        colour_ok += true_colour in colours and len(colours) <= 2
        if scene["colour"]:
            bright += 1
            bright_ok += shapes == {scene["shape"]} and scene["colour"] in colours
    n = max(len(preds), 1)
    return shape_ok / n, colour_ok / n, bright_ok / max(bright, 1)


def classic_captions(pairs: list) -> tuple[dict[str, str], float]:
    from videonav.tools.captioners.base import make_captioner
    from videonav.tools.config import CaptionerConfig

    cap = make_captioner(CaptionerConfig(backend="classic", ocr_workers=1))
    t0 = time.perf_counter()
    out = {p.clip_id: cap.describe(p.frames, p.timestamps, "").text for p in pairs}
    return out, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sft-steps", type=int, default=8)
    ap.add_argument("--rl-steps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--train-seeds", default="100-103")
    ap.add_argument("--eval-seeds", default="200-201")
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--eval-limit", type=int, default=12)
    ap.add_argument("--config", default="captioner_sft", help="run config (captioner_ocr: the OCR-prompt model)")
    ap.add_argument("--sft-model", help="a trained SFT captioner dir: score it instead of training one here")
    ap.add_argument("--rl-model", help="a trained SCST captioner dir (with --sft-model)")
    ap.add_argument("--work", default="runs/bench_captioner")
    ap.add_argument("--name", action="append", default=[], metavar="ROW=DIR",
                    help="with --sft-model: score another trained captioner dir as row ROW (repeatable)")
    ap.add_argument("--no-classic", action="store_true", help="skip the classic row (it is deterministic: "
                    "reuse an earlier run's)")
    ap.add_argument("--out", default="bench/results/captioner.txt")
    args = ap.parse_args()

    def seeds(s: str) -> list[int]:
        a, _, b = s.partition("-")
        return list(range(int(a), int(b or a) + 1))

    over = {"output": args.work, "train.steps": args.sft_steps, "train.batch_size": args.batch,
            "train.save_steps": 10 ** 6, "train.log_steps": 1, "train.threads": 1,
            "data.train_seeds": seeds(args.train_seeds), "data.eval_seeds": seeds(args.eval_seeds),
            "data.minutes": args.minutes}
    scoring = bool(args.sft_model or args.name)
    if scoring:  # score given models: keep their config's training fields, take the eval data from here
        over = {k: v for k, v in over.items() if not k.startswith("train.")}
    cfg = load_captioner_config(args.config, over)
    pairs = pairs_for(cfg.data, "eval", cfg.model.frames)[:args.eval_limit or None]
    refs = {p.clip_id: p.refs for p in pairs}
    log = lambda m: print(m, flush=True)  # noqa: E731
    preds: dict[str, dict[str, str]] = {}
    train: dict[str, dict] = {}
    if not args.no_classic:
        preds["classic"], classic_s = classic_captions(pairs)
        log(f"classic: {len(pairs)} clips in {classic_s:.0f} s")
    given = {"sft": args.sft_model, "sft+scst": args.rl_model,
             **{n.partition("=")[0]: n.partition("=")[2] for n in args.name}}
    for kind in (given if scoring else ("sft", "sft+scst")):
        c0 = time.process_time()
        if scoring:
            if not given[kind]:
                continue
            t0 = time.perf_counter()
            preds[kind] = caption_pairs(given[kind], cfg, pairs, batch=8)
            log(f"{kind}: captioned {len(pairs)} clips in {time.perf_counter() - t0:.0f} s")
            continue
        if kind == "sft":
            res = train_sft(cfg, log=log)
        else:
            rcfg = load_captioner_config(args.config, {**over, "train.steps": args.rl_steps,
                                                            "train.batch_size": max(1, args.batch // 2),
                                                            "train.lr": 1e-5, "train.vision_lr": 1e-5,
                                                            "rl.samples": 2})
            res = train_scst(rcfg, log=log)
        res["cpu_s"] = time.process_time() - c0
        train[kind] = res
        t0 = time.perf_counter()
        preds[kind] = caption_pairs(res["model_dir"], cfg, pairs, batch=4)
        log(f"{kind}: captioned {len(pairs)} clips in {time.perf_counter() - t0:.0f} s")
    java = java_available()
    rows = []
    for name, p in preds.items():
        rep = caption_scores(refs, p, meteor=java)
        shape, colour, bright = facts_named(p, args.minutes)
        rows.append((name, rep.overall, shape, colour, bright))
    lines = [f"Captioner bench ({time.strftime('%Y-%m-%d')}): {len(pairs)} held-out clips from seeds {args.eval_seeds} "
             f"({args.minutes:g}-min generated videos), train seeds {args.train_seeds}",
             f"command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python bench/captioner.py "
             + " ".join(sys.argv[1:]),
             "", f"{'captioner':<10}{'BLEU-4':>8}{'METEOR':>8}{'ROUGE-L':>9}{'CIDEr-D':>9}{'STS':>7}"
             f"{'shape ok':>10}{'colour ok':>10}{'bright ok':>10}"]
    for name, o, shape, colour, bright in rows:
        met = "-" if o["METEOR"] is None else f"{o['METEOR']:.3f}"
        lines.append(f"{name:<10}{o['BLEU-4']:>8.3f}{met:>8}{o['ROUGE-L']:>9.3f}{o['CIDEr-D']:>9.3f}{o['STS']:>7.3f}"
                     f"{shape:>10.0%}{colour:>10.0%}{bright:>10.0%}")
    if train:
        lines += ["", "training (one shared, heavily loaded 2-core CPU; OMP_NUM_THREADS=1):"]
    for kind, res in train.items():
        steps = len(res["history"])
        last = res["history"][-1] if res["history"] else {}
        lines.append(f"  {kind:<9} {steps} steps: wall {res['seconds']:.0f} s, CPU {res['cpu_s']:.0f} s "
                     f"({res['cpu_s'] / max(steps, 1):.1f} CPU s/step incl. setup), "
                     f"peak RSS {res['peak_rss_mb']:.0f} MB,"
                     f" last {json.dumps({k: round(v, 3) for k, v in last.items() if k != 'step'})}")
    lines += ["", "sample captions (first 4 clips):"]
    for p in pairs[:4]:
        lines.append(f"  {p.clip_id} ref: {p.refs[0]}")
        for name in preds:
            lines.append(f"  {'':<{len(p.clip_id)}} {name}: {preds[name][p.clip_id][:160]}")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
