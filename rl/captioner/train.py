"""SFT and SCST loops for the video captioner: plain torch, checkpoints, resume, one log line per N steps.

Why a plain loop and not TRL: TRL's ``SFTTrainer`` for VLMs expects a processor-driven collator
over chat messages and recomputes pixels every step; the "secretly video captioners" recipe also
needs two learning rates (fresh vision tower vs pretrained LM) and, for SCST, a greedy baseline
decoded alongside the samples, which ``GRPOTrainer`` (group-mean baseline, text prompts) does not
do. Forty lines of loop do both with cached pixels and run the same on CPU and GPU.

Checkpoints: ``<output>/<kind>/checkpoint-N/`` holds the model (``save_pretrained``), the
optimizer and ``state.json``; ``resume=True`` continues from the newest. The final model is
``<output>/<kind>/model`` (loadable by ``--captioner transformers --model``).
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videonav.rl.captioner import batch as B
from videonav.rl.captioner import scst as S
from videonav.rl.captioner.config import CaptionerRunConfig, DataConfig
from videonav.rl.captioner.data import Pair, attach_ocr, load_caption_dataset, sample_pairs
from videonav.rl.captioner.model import build_captioner, load_captioner, save_captioner
from videonav.rl.captioner.rewards import CiderD, scst_rewards
from videonav.rl.captioner.vision_aux import (
    HEAD_FILE,
    PRETRAINED_FILE,
    attribute_weights,
    aux_loss,
    install_head,
    load_vision,
    make_head,
    match_token_scale,
    pretrain_vision,
    save_vision,
    scenes_of,
    with_head,
)
from videonav.tools.captioners.attr_head import load_predictor

Log = Callable[[str], None]


def pairs_for(data: DataConfig, split: str, frames: int) -> list[Pair]:
    """Train or eval pairs: generated sample videos by seed, or the dataset layout (90/10 by order)."""
    if data.source == "sample":
        seeds = data.train_seeds if split == "train" else data.eval_seeds
        out = list(sample_pairs(seeds, data.minutes, frames, data.per_video,
                                jitter=data.frame_jitter and split == "train"))
    else:
        if not data.annotations or not data.videos:
            raise ValueError("data.source='dataset' needs data.annotations (JSON) and data.videos (folder)")
        allp = list(load_caption_dataset(data.annotations, data.videos, frames, data.limit))
        cut = max(1, int(len(allp) * 0.9))
        out = allp[:cut] if split == "train" else allp[cut:]
    return out[:data.limit] if data.limit else out


def with_ocr(cfg: CaptionerRunConfig, pairs: Sequence[Pair]) -> list[Pair]:
    """``ocr_prompt`` models: the pairs with their OCR lines (cached in ``<output>/ocr_cache.json``)."""
    if not cfg.model.ocr_prompt or all(p.ocr is not None for p in pairs):
        return list(pairs)
    return attach_ocr(pairs, Path(cfg.output) / "ocr_cache.json")


def encode_pairs(processor: Any, cfg: CaptionerRunConfig, pairs: Sequence[Pair], targets: bool = True
                 ) -> list[B.Encoded]:
    """Each reference becomes one SFT target (several per clip, pixels processed once per clip);
    eval encodes one prompt per clip."""
    import torch

    tok = processor.tokenizer
    w = cfg.aux.attr_token_weight
    out = []
    for p in with_ocr(cfg, pairs):
        refs = p.refs if targets else [""]
        first = B.encode(processor, cfg.model, p.clip_id, p.frames, p.timestamps, refs[0], p.refs, p.ocr)
        first.labels = p.labels
        first.ocr = p.ocr
        first.weights = attribute_weights(tok, refs[0], len(first.target_ids), w) if w != 1.0 and targets else None
        out.append(first)
        for ref in refs[1:]:
            target = tok(ref + tok.eos_token, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
            out.append(B.Encoded(p.clip_id, first.prompt_ids, first.pixel_values, first.pixel_mask,
                                 target.to(torch.long), p.refs, p.labels,
                                 attribute_weights(tok, ref, len(target), w) if w != 1.0 else None, p.ocr))
    return out


def _setup(cfg: CaptionerRunConfig) -> Any:
    import torch

    torch.manual_seed(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    return torch


def _autocast(cfg: CaptionerRunConfig) -> Any:
    """bf16 autocast when ``train.amp`` (fp32 master weights: small LM updates are not rounded away)."""
    import torch

    kind = "cuda" if str(cfg.train.device).startswith("cuda") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=cfg.train.amp)


def _optimizer(model: Any, cfg: CaptionerRunConfig, head: Any = None) -> Any:
    import torch

    vision = [p for n, p in model.named_parameters() if "vision_model" in n or "connector" in n]
    ids = {id(p) for p in vision}
    text = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": vision, "lr": cfg.train.vision_lr}, {"params": text, "lr": cfg.train.lr}]
    if head is not None:  # the aux head learns at the vision rate
        groups.append({"params": list(head.parameters()), "lr": cfg.train.vision_lr})
    return torch.optim.AdamW(groups, weight_decay=cfg.train.weight_decay)


def colour_weights(items: Sequence[B.Encoded]) -> list[float] | None:
    """1 / (examples with the same colour label) per example: every colour drawn equally often."""
    from collections import Counter

    if any(e.labels is None for e in items):
        return None
    counts = Counter(e.labels[0] for e in items)
    return [1.0 / counts[e.labels[0]] for e in items]


def newest_checkpoint(folder: Path) -> Path | None:
    cks = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return cks[-1] if cks else None


def _save_checkpoint(folder: Path, model: Any, processor: Any, opt: Any, cfg: CaptionerRunConfig, step: int,
                     history: list[dict[str, float]], head: Any = None) -> None:
    import torch

    ck = folder / f"checkpoint-{step}"
    save_captioner(model, processor, cfg.model, ck)
    torch.save(opt.state_dict(), ck / "optimizer.pt")
    if head is not None:  # inside the checkpoint, which is itself a loadable model dir
        install_head(ck, head, cfg.aux.head_threshold)
    (ck / "state.json").write_text(json.dumps({"step": step, "history": history}), encoding="utf-8")
    for old in sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[:-2]:
        shutil.rmtree(old, ignore_errors=True)  # keep the two newest


def _run(kind: str, cfg: CaptionerRunConfig, resume: bool, log: Log,
         step_fn: Callable[[Any, Any, list[B.Encoded], Any], dict[str, float]],
         start_model: Callable[[], tuple[Any, Any]], items: list[B.Encoded] | None = None,
         head_fn: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    torch = _setup(cfg)
    folder = Path(cfg.output) / kind
    folder.mkdir(parents=True, exist_ok=True)
    ck = newest_checkpoint(folder) if resume else None
    if ck is not None:
        model, processor, _ = load_captioner(ck)
        state = json.loads((ck / "state.json").read_text(encoding="utf-8"))
        step, history = int(state["step"]), list(state["history"])
        log(f"[{kind}] resuming from {ck} (step {step})")
        head = head_fn(model) if head_fn else None
        if head is not None:
            if not (ck / HEAD_FILE).is_file():
                raise ValueError(f"{ck}: no {HEAD_FILE} for aux.weight > 0; resume without the aux head "
                                 "(aux.weight: 0) or start a fresh run")
            head.load_state_dict(torch.load(ck / HEAD_FILE, weights_only=True))
    else:
        model, processor = start_model()
        head = head_fn(model) if head_fn else None
        step, history = 0, []
    dtype = getattr(torch, cfg.train.dtype)
    model = model.to(cfg.train.device, dtype=dtype).train()
    if head is not None:
        head.to(cfg.train.device).train()
    opt = _optimizer(model, cfg, head)
    if ck is not None and (ck / "optimizer.pt").is_file():
        lrs = [g["lr"] for g in opt.param_groups]
        opt.load_state_dict(torch.load(ck / "optimizer.pt", weights_only=True))
        for g, lr in zip(opt.param_groups, lrs, strict=True):  # the config's rates, not the saved ones
            g["lr"] = lr
    if items is None:
        items = encode_pairs(processor, cfg, pairs_for(cfg.data, "train", cfg.model.frames), targets=kind == "sft")
    if not items:
        raise ValueError(f"{kind}: no training clips (check data.*)")
    log(f"[{kind}] {len(items)} training examples, {cfg.train.steps} steps of {cfg.train.batch_size}")
    weights = colour_weights(items) if cfg.train.balance_colours else None
    t0 = time.perf_counter()
    while step < cfg.train.steps:
        rng = random.Random(cfg.train.seed * 100003 + step)  # batch depends on the step only: resume-exact
        chunk = (rng.sample(items, min(cfg.train.batch_size, len(items))) if weights is None
                 else rng.choices(items, weights, k=cfg.train.batch_size))
        stats = step_fn(model, processor, chunk, opt)
        step += 1
        history.append({"step": step, **stats})
        if step % cfg.train.log_steps == 0 or step == cfg.train.steps:
            log(f"[{kind}] step {step}/{cfg.train.steps} " + " ".join(f"{k}={v:.4f}" for k, v in stats.items())
                + f" ({time.perf_counter() - t0:.0f} s)")
        if step % cfg.train.save_steps == 0 and step < cfg.train.steps:
            _save_checkpoint(folder, model, processor, opt, cfg, step, history, head)
    out = save_captioner(model.to(torch.float32), processor, cfg.model, folder / "model",
                         {"kind": kind, "steps": step, "history": history[-50:]})
    if head is not None:  # inside the model dir (used at caption time) and beside it (older layout)
        install_head(out, head, cfg.aux.head_threshold)
        torch.save(head.state_dict(), folder / HEAD_FILE)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"[{kind}] model saved to {out} ({time.perf_counter() - t0:.0f} s, peak RSS {peak_mb:.0f} MB)")
    return {"model_dir": str(out), "history": history, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_mb}


def _init_text(model: Any, src: str) -> None:
    """Copy a saved captioner's text model and LM head into ``model`` (shapes must agree)."""
    from safetensors.torch import load_file

    path = Path(src) / "model.safetensors"
    if not path.is_file():
        raise ValueError(f"train.init_text={src!r}: no model.safetensors there; point it at a trained captioner dir")
    state = {k: v for k, v in load_file(str(path)).items() if k.startswith(("model.text_model.", "lm_head."))}
    own = model.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad or not state:
        raise ValueError(f"train.init_text={src!r}: its text model does not fit model.* ({bad[:2]}); "
                         "model.text_layers and the tokenizer must match it")
    model.load_state_dict(state, strict=False)


def train_sft(cfg: CaptionerRunConfig, resume: bool = False, log: Log = print,
              items: list[B.Encoded] | None = None) -> dict[str, Any]:
    """Teacher-forced cross-entropy on (frames, reference) pairs; with ``aux``, plus the colour/shape
    head's loss on the visual tokens, after ``aux.pretrain_steps`` vision-only steps
    (:mod:`videonav.rl.captioner.vision_aux`; the pretrained tower is kept in
    ``<output>/sft/vision_pretrained.pt`` and reused by later runs of the same output)."""
    import torch

    use_aux = cfg.aux.weight > 0 or cfg.aux.pretrain_steps > 0
    if use_aux and cfg.data.source != "sample":
        raise ValueError("aux (colour/shape head) needs generated clips: data.source='sample', or aux.weight: 0 "
                         "and aux.pretrain_steps: 0")
    holder: dict[str, Any] = {}

    def get_head(model: Any) -> Any:
        if use_aux and "head" not in holder:  # sized by the LM (the visual tokens' width)
            holder["head"] = make_head(model.config.text_config.hidden_size, cfg.train.seed)
        return holder.get("head")

    def step(model: Any, processor: Any, chunk: list[B.Encoded], opt: Any) -> dict[str, float]:
        b = {k: v.to(cfg.train.device) for k, v in B.collate(chunk, processor.tokenizer.pad_token_id).items()}
        b["pixel_values"] = b["pixel_values"].to(model.dtype)
        stats: dict[str, float] = {}
        with _autocast(cfg):
            loss = B.loss(model, b, cfg.model)
            head = holder.get("head")
            if head is not None and cfg.aux.weight > 0 and "attr_labels" in b:
                aux, right = aux_loss(model, head, b["pixel_values"], b["pixel_attention_mask"], b["attr_labels"])
                stats = {"caption_loss": float(loss.detach()), "aux_loss": float(aux.detach()),
                         "shape_acc": float(right[:, 1].float().mean())}
                loss = loss + cfg.aux.weight * aux
        loss.backward()
        params = [*model.parameters(), *(holder["head"].parameters() if "head" in holder else [])]
        torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return {"loss": float(loss.detach()), **stats}

    def start() -> tuple[Any, Any]:
        model, processor = build_captioner(cfg.model, cfg.train.seed)
        if cfg.train.init_text:
            _init_text(model, cfg.train.init_text)
            log(f"[sft] text model + LM head from {cfg.train.init_text}")
        head = get_head(model)
        if head is None or cfg.aux.pretrain_steps == 0:
            return model, processor
        model = model.to(cfg.train.device)
        head.to(cfg.train.device)
        path = Path(cfg.output) / "sft" / PRETRAINED_FILE
        if path.is_file():
            info = load_vision(model, head, path)
            log(f"[vision] loaded the pretrained tower from {path} (held-out {info.get('held_out')})")
        else:
            res = pretrain_vision(model, processor, head, cfg, log)
            save_vision(model, head, path, {"held_out": res["held_out"], "seconds": res["seconds"],
                                            "steps": cfg.aux.pretrain_steps})
        factor = match_token_scale(model, processor, scenes_of(cfg.data.train_seeds, cfg.data.minutes)[:16],
                                   cfg.model.frames)
        log(f"[vision] connector scaled by {factor:.4f}: visual tokens at the word embeddings' RMS")
        return model, processor

    return _run("sft", cfg, resume, log, step, start, items, get_head)


Rewards = Callable[[list[str], list[str], list[list[str]]], list[float]]


def train_scst(cfg: CaptionerRunConfig, resume: bool = False, log: Log = print,
               items: list[B.Encoded] | None = None, rewards: Rewards | None = None) -> dict[str, Any]:
    """Self-critical sequence training: REINFORCE with the greedy caption's CIDEr-D as baseline.

    ``rewards(sampled, greedy, refs)``: the advantage per sample; default :func:`scst_rewards`
    with CIDEr-D document frequencies from the training references.
    """
    import torch

    train_pairs = pairs_for(cfg.data, "train", cfg.model.frames)
    cider = CiderD({p.clip_id: p.refs for p in train_pairs})
    init = cfg.rl.init or str(Path(cfg.output) / "sft" / "model")
    if not Path(init).is_dir():
        raise ValueError(f"captioner-rl starts from an SFT model: {init} does not exist; run "
                         "`videonav train captioner-sft` first or set rl.init")
    k = cfg.rl.samples
    # the start model's attribute head (frozen): rewards score the captions indexing would write
    pred = load_predictor(init) if cfg.rl.use_head else None
    if pred is not None:
        cfg = cfg.model_copy(update={"aux": cfg.aux.model_copy(update={"head_threshold": pred.threshold})})
        pred.head.requires_grad_(False)
        log(f"[rl] rewards on head-corrected captions ({init}/{HEAD_FILE}, threshold {pred.threshold:g})")

    calls = [0]
    probe: list[B.Encoded] = []

    def probe_cider(model: Any, processor: Any) -> float:
        return S.probe_cider(model, processor, probe, cfg, cider, pred, lambda: _autocast(cfg))

    def step(model: Any, processor: Any, chunk: list[B.Encoded], opt: Any) -> dict[str, float]:
        extra = {"probe_start": probe_cider(model, processor)} if probe and calls[0] == 0 else {}
        # each clip's tower pass and prompt prefill run once (videonav.rl.captioner.scst)
        tok = processor.tokenizer
        vision = [p for n, p in model.named_parameters() if "vision_model" in n or "connector" in n]
        if cfg.rl.freeze_vision:
            for p in vision:
                p.requires_grad_(False)
        model.eval()
        b = {k_: v.to(cfg.train.device) for k_, v in B.collate(chunk, tok.pad_token_id, with_target=False).items()}
        with _autocast(cfg):
            with torch.set_grad_enabled(any(p.requires_grad for p in vision)):
                tokens = S.clip_tokens(model, b)
            states = S.image_states(tokens, b["pixel_values"].shape[1], cfg.model)
            with torch.inference_mode():
                emb = S.prompt_embeds(model, b["input_ids"], states.detach())
            g_ids, ids = S.decode(model, emb, b["attention_mask"], k, cfg.train.max_new_tokens,
                                  cfg.rl.temperature, tok.eos_token_id, tok.pad_token_id)
            greedy, sampled = S.texts(tok, g_ids), S.texts(tok, ids)
            if pred is not None:
                greedy, sampled = S.with_head_tokens(pred, tokens, chunk, greedy, sampled)
        model.train()
        rep = [e for e in chunk for _ in range(k)]
        adv = (rewards or (lambda s, g, r: scst_rewards(s, g, r, cider)))(
            sampled, [g for g in greedy for _ in range(k)], [e.refs for e in rep])
        with _autocast(cfg):
            lp, n = S.sample_logprobs(model, S.prompt_embeds(model, b["input_ids"], states), b["attention_mask"],
                                      ids, k, tok.eos_token_id)
        a = torch.tensor(adv, dtype=lp.dtype, device=lp.device)
        loss = -(a * lp / n).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        base = sum(cider.score(g, e.refs) for g, e in zip(greedy, chunk, strict=True)) / len(chunk)
        calls[0] += 1
        if probe and calls[0] % cfg.train.save_steps == 0:
            extra["probe_cider"] = probe_cider(model, processor)
        return {"loss": float(loss.detach()), "reward": sum(adv) / len(adv), "greedy_cider": base, **extra}

    def start() -> tuple[Any, Any]:
        model, processor, _ = load_captioner(init)
        return model, processor

    if items is None:
        _, processor, _ = load_captioner(init)
        items = encode_pairs(processor, cfg, train_pairs, targets=False)
    if cfg.rl.probe_clips:  # spread over the training seeds; the same clips at every probe
        probe.extend(items[:: max(1, len(items) // cfg.rl.probe_clips)][:cfg.rl.probe_clips])
    return _run("rl", cfg, resume, log, step, start, items, (lambda _m: pred.head) if pred is not None else None)


def caption_pairs(model_dir: str | Path, cfg: CaptionerRunConfig, pairs: Sequence[Pair], batch: int = 8,
                  use_head: bool = True) -> dict[str, str]:
    """Greedy captions ``{clip_id: caption}`` from a saved captioner (for the metrics); with its
    attribute head's corrections when the dir ships one and ``use_head``."""
    model, processor, mcfg = load_captioner(model_dir)
    model.eval()
    pred = load_predictor(model_dir) if use_head else None
    if mcfg.ocr_prompt:
        pairs = with_ocr(cfg.model_copy(update={"model": mcfg}), pairs)
    items = [B.encode(processor, mcfg, p.clip_id, p.frames, p.timestamps, "", p.refs, p.ocr) for p in pairs]
    for e, p in zip(items, pairs, strict=True):
        e.ocr = p.ocr
    out: dict[str, str] = {}
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        with _autocast(cfg):
            texts, _, _ = B.generate(model, processor, chunk, mcfg, max_new_tokens=cfg.train.max_new_tokens)
            if pred is not None:
                (texts,) = with_head(pred, model, processor, chunk, texts)
        out.update({e.clip_id: t for e, t in zip(chunk, texts, strict=True)})
    return out
