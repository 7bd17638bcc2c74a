"""Examples -> tensors, teacher-forced loss and generation, for both frame poolings.

Why the prompt is built here exactly as ``tools/captioners/transformers.py`` builds it (the same
``render`` + ``chat_messages`` + chat template): a captioner trained on one prompt and indexed
with another would see text it never saw. Each example is processed once (pixels and prompt ids
cached) because the image processor, not the model, dominates small-model steps on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonav.rl.captioner.model import CaptionerModelConfig
from videonav.tools.captioners.common import chat_messages, to_pil
from videonav.tools.captioners.ocr_prompt import ocr_user_text
from videonav.tools.captioners.prompts import render


@dataclass
class Encoded:
    """One clip: prompt ids, pixels (frames x 3 x H x W) and the target ids (caption + eos)."""

    clip_id: str
    prompt_ids: Any
    pixel_values: Any
    pixel_mask: Any
    target_ids: Any
    refs: list[str]
    labels: Any = None  # (colour, shape) ids for the aux head (generated clips)
    weights: Any = None  # per target token loss weights (aux.attr_token_weight); None = all 1
    ocr: list[str] | None = None  # the clip's OCR lines (ocr_prompt models): words the head must not rewrite


def prompt_for(processor: Any, timestamps: Sequence[float], n_images: int,
               ocr_lines: Sequence[str] | None = None) -> str:
    """The chat prompt the transformers captioner sends for a leaf clip with no context
    (``ocr_lines`` given: the OCR-conditioned prompt of ``ocr_prompt`` models)."""
    user = render("", None, timestamps) if ocr_lines is None else ocr_user_text(ocr_lines)
    return processor.apply_chat_template(chat_messages(user, n_images, False), add_generation_prompt=True,
                                         tokenize=False)


def encode(processor: Any, cfg: CaptionerModelConfig, clip_id: str, frames: Sequence[np.ndarray],
           timestamps: Sequence[float], caption: str, refs: list[str] | None = None,
           ocr_lines: Sequence[str] | None = None) -> Encoded:
    import torch

    if cfg.ocr_prompt and ocr_lines is None:
        raise ValueError(f"{clip_id}: this captioner reads OCR (model.ocr_prompt) but no OCR lines were given")
    n_images = 1 if cfg.frame_pooling == "mean" else len(frames)
    text = prompt_for(processor, timestamps, n_images, ocr_lines if cfg.ocr_prompt else None)
    images = [to_pil(f) for f in frames]
    if cfg.frame_pooling == "mean":  # the processor counts placeholders: feed one image, then the rest
        first = processor(text=[text], images=[images[:1]], return_tensors="pt")
        rest = processor.image_processor(images=[images], return_tensors="pt")
        pv, pm = rest["pixel_values"][0], rest["pixel_attention_mask"][0]
        ids = first["input_ids"][0]
    else:
        enc = processor(text=[text], images=[images], return_tensors="pt")
        pv, pm, ids = enc["pixel_values"][0], enc["pixel_attention_mask"][0], enc["input_ids"][0]
    tok = processor.tokenizer
    target = tok(caption + tok.eos_token, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    return Encoded(clip_id, ids, pv, pm, target if caption else torch.zeros(0, dtype=torch.long),
                   refs or ([caption] if caption else []))


def collate(items: Sequence[Encoded], pad_id: int, with_target: bool = True) -> dict[str, Any]:
    """Left-padded prompts (+ right-padded targets): generation and loss share one layout."""
    import torch

    seqs = [torch.cat([e.prompt_ids, e.target_ids]) if with_target else e.prompt_ids for e in items]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    for i, (e, s) in enumerate(zip(items, seqs, strict=True)):
        # targets right-aligned too: every row's prompt ends at width - len(target)
        ids[i, width - len(s):] = s
        mask[i, width - len(s):] = 1
        if with_target and len(e.target_ids):
            labels[i, width - len(e.target_ids):] = e.target_ids
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels,
           "pixel_values": torch.stack([e.pixel_values for e in items]),
           "pixel_attention_mask": torch.stack([e.pixel_mask for e in items])}
    if with_target and any(e.weights is not None for e in items):
        weights = torch.ones((len(items), width))
        for i, e in enumerate(items):
            if e.weights is not None and len(e.target_ids):
                weights[i, width - len(e.target_ids):] = e.weights
        out["weights"] = weights
    if all(e.labels is not None for e in items):
        out["attr_labels"] = torch.tensor([list(e.labels) for e in items], dtype=torch.long)
    return out


def _model_inputs(model: Any, batch: dict[str, Any], cfg: CaptionerModelConfig) -> dict[str, Any]:
    import torch

    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if cfg.frame_pooling == "concat":
        return {**inputs, "pixel_values": batch["pixel_values"], "pixel_attention_mask": batch["pixel_attention_mask"]}
    b, n = batch["pixel_values"].shape[:2]
    feats = model.model.get_image_features(pixel_values=batch["pixel_values"],
                                           pixel_attention_mask=batch["pixel_attention_mask"])
    feats = getattr(feats, "pooler_output", feats)  # per clip: (frames * tokens) x hidden
    feats = torch.stack(list(feats)).reshape(b, n, -1, feats[0].shape[-1]).mean(1)  # the frames' average
    return {**inputs, "image_hidden_states": feats}


def loss(model: Any, batch: dict[str, Any], cfg: CaptionerModelConfig) -> Any:
    """Mean token cross-entropy of the targets given frames + prompt.

    The LM head runs on the target positions only (targets are right-aligned, so they are the
    last columns): on a 49k vocabulary that head is ~15% of a step when applied to every position.
    """
    import torch

    labels = batch["labels"]
    keep = int((labels != -100).any(0).nonzero().min()) if (labels != -100).any() else labels.shape[1] - 1
    hidden = model.model(**_model_inputs(model, batch, cfg)).last_hidden_state
    logits = model.lm_head(hidden[:, max(keep - 1, 0):-1]).float()
    target = labels[:, max(keep, 1):]
    if "weights" not in batch:
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=-100)
    per = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                            ignore_index=-100, reduction="none")
    w = batch["weights"][:, max(keep, 1):].reshape(-1).to(per.device) * (target.reshape(-1) != -100)
    return (per * w).sum() / w.sum().clamp(min=1e-6)


def generate(model: Any, processor: Any, items: Sequence[Encoded], cfg: CaptionerModelConfig, *,
             sample: bool = False, max_new_tokens: int = 40, temperature: float = 1.0,
             num_return_sequences: int = 1) -> tuple[list[str], Any, Any]:
    """(captions, full ids, prompt width): greedy or sampled, ``num_return_sequences`` per clip."""
    import torch

    tok = processor.tokenizer
    batch = collate(items, tok.pad_token_id, with_target=False)
    inputs = _model_inputs(model, batch, cfg)
    kw: dict[str, Any] = dict(max_new_tokens=max_new_tokens, do_sample=sample,
                              num_return_sequences=num_return_sequences, pad_token_id=tok.pad_token_id,
                              eos_token_id=tok.eos_token_id)
    kw.update(temperature=temperature, top_k=0, top_p=1.0) if sample else kw.update(
        temperature=None, top_k=None, top_p=None)
    width = batch["input_ids"].shape[1]
    with torch.no_grad():
        if "image_hidden_states" in inputs:  # mean pooling: generate from merged embeddings (new tokens only)
            emb = model.get_input_embeddings()(inputs["input_ids"])
            emb = model.model.inputs_merger(inputs["input_ids"], emb, inputs["image_hidden_states"])
            ids = model.generate(inputs_embeds=emb, attention_mask=inputs["attention_mask"], **kw)
            ids = torch.cat([batch["input_ids"].repeat_interleave(num_return_sequences, 0), ids], 1)
        else:
            ids = model.generate(**inputs, **kw)
    texts = [t.strip() for t in tok.batch_decode(ids[:, width:], skip_special_tokens=True)]
    return texts, ids, width
