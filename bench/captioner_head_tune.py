"""Usage: python bench/captioner_head_tune.py MODEL_DIR OUT.json [HEAD.pt ...] (then --sweep OUT.json ...).

Picks the attribute head's caption-time policy on TRAINING clips only (generator seeds 100-119,
frames at random points as in training; never the 200-299 evaluation seeds): the raw greedy
captions and each head's colour/shape probabilities are dumped once, then ``--sweep`` applies
tools/captioners/attr_head.agree at several thresholds and reports CIDEr-D and the facts named.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from videonav.agent.evaluation.caption_metrics import caption_scores
from videonav.rl.captioner import batch as B
from videonav.rl.captioner.config import load_captioner_config
from videonav.rl.captioner.model import load_captioner
from videonav.rl.captioner.train import pairs_for, with_ocr
from videonav.rl.captioner.vision_aux import make_head
from videonav.tools.captioners.attr_head import AttrPredictor, agree, load_predictor

sys.path.insert(0, str(Path(__file__).parent))
from captioner import facts_named  # noqa: E402


def dump(model_dir: str, out: str, heads: list[str]) -> None:
    cfg = load_captioner_config("captioner_aux")
    model, processor, mcfg = load_captioner(model_dir)
    model.eval()
    preds: list[tuple[str, AttrPredictor]] = []
    own = load_predictor(model_dir)
    if own is not None:
        preds.append(("own", own))
    for h in heads:
        head = make_head(model.config.text_config.hidden_size)
        head.load_state_dict(torch.load(h, weights_only=True))
        preds.append((h, AttrPredictor(head, own.colours if own else [], own.shapes if own else [], 0.5)))
    pairs = with_ocr(cfg, pairs_for(cfg.data, "train", mcfg.frames))
    rows = {}
    t0 = time.perf_counter()
    for i in range(0, len(pairs), 8):
        chunk = [B.encode(processor, mcfg, p.clip_id, p.frames, p.timestamps, "", p.refs, p.ocr)
                 for p in pairs[i:i + 8]]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            texts, _, _ = B.generate(model, processor, chunk, mcfg, max_new_tokens=32)
        b = B.collate(chunk, processor.tokenizer.pad_token_id, with_target=False)
        got = {name: p.predict(model, b["pixel_values"], b["pixel_attention_mask"]) for name, p in preds}
        for j, (p, t) in enumerate(zip(pairs[i:i + 8], texts, strict=True)):
            rows[p.clip_id] = {"raw": t, "refs": p.refs, "ocr": p.ocr, "labels": list(p.labels),
                               "heads": {n: vars(a[j]) for n, a in got.items()}}
        print(f"{len(rows)}/{len(pairs)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    Path(out).write_text(json.dumps(rows), encoding="utf-8")


def sweep(path: str, colours: list[str], shapes: list[str]) -> None:
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    refs = {k: r["refs"] for k, r in rows.items()}
    names = list(next(iter(rows.values()))["heads"])
    raw = {k: r["raw"] for k, r in rows.items()}
    o = caption_scores(refs, raw, meteor=False).overall
    print(f"{path}: {len(rows)} training clips; raw CIDEr-D {o['CIDEr-D']:.3f} facts {facts_named(raw, 5)}")
    for name in names:
        acc_c = sum(colours.index(r["heads"][name]["colour"]) == r["labels"][0] for r in rows.values()) / len(rows)
        acc_s = sum(shapes.index(r["heads"][name]["shape"]) == r["labels"][1] for r in rows.values()) / len(rows)
        print(f"  head {name}: colour acc {acc_c:.1%} shape acc {acc_s:.1%}")
        for thr in (0.0, 0.3, 0.5, 0.7, 0.9, 0.97, 1.01):
            fixed = {}
            for k, r in rows.items():
                a = r["heads"][name]
                fixed[k] = agree(r["raw"], a["colour"] if a["p_colour"] >= thr else None,
                                 a["shape"] if a["p_shape"] >= thr else None, colours, shapes, r["ocr"] or [])
            o = caption_scores(refs, fixed, meteor=False).overall
            shape, colour, bright = facts_named(fixed, 5)
            print(f"    threshold {thr:<5} CIDEr-D {o['CIDEr-D']:.3f} BLEU-4 {o['BLEU-4']:.3f} shape ok {shape:.0%} "
                  f"colour ok {colour:.0%} bright ok {bright:.0%}")


if __name__ == "__main__":
    from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES

    if sys.argv[1] == "--sweep":
        for p in sys.argv[2:]:
            sweep(p, list(ATTR_COLOURS), list(ATTR_SHAPES))
    else:
        torch.set_num_threads(1)
        dump(sys.argv[1], sys.argv[2], sys.argv[3:])
