"""One SCST step's heavy parts, each done once: visual tokens, prompt prefill, log-probs.

Why a hand-written decode and not ``model.generate``: an SCST step decodes one greedy caption
and ``k`` samples of the *same* prompt. Two ``generate`` calls (greedy, then
``num_return_sequences=k``) ran the vision tower and the prompt's prefill 1 + k times per clip,
the head ran the tower once more, and the loss forward ran tower and prompt again for every
sample, with the 49k-word LM head over every prompt position. Here, per clip:

* the tower + connector run once (:func:`clip_tokens`); with ``rl.freeze_vision`` the tokens are
  constants, so the head's labels, both decodes and the loss all read the same tensors;
* the prompt is prefilled once and its KV cache copied to the greedy row and the ``k`` sample
  rows (:func:`decode`: greedy = argmax, samples = softmax(logits / T) draws, as
  ``generate(do_sample=True, top_k=0, top_p=1)`` does), under ``torch.inference_mode``;
* the loss prefills the prompt once *with* gradients, repeats its cache ``k`` times and runs only
  the sampled tokens over it (:func:`sample_logprobs`); the LM head sees only those positions.

The objective is unchanged: ``-(A * sum log p(sample) / len)`` per sample, A = CIDEr-D(sample) -
CIDEr-D(greedy) after the head's corrections. RoPE scores depend on relative positions only, so
a prompt shared through the cache gives the same log-probs as the old right-aligned batch
(tests/test_captioner_scst.py checks loss and gradients against the old path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from videonav.rl.captioner import batch as B
from videonav.rl.captioner.config import CaptionerRunConfig
from videonav.rl.captioner.model import CaptionerModelConfig
from videonav.rl.captioner.rewards import CiderD
from videonav.tools.captioners.attr_head import AttrPredictor, visual_tokens


def clip_tokens(model: Any, batch: dict[str, Any]) -> list[Any]:
    """Per clip: the connector's tokens (frames x tokens, hidden), the tensors the LM and the head read."""
    return visual_tokens(model, batch["pixel_values"].to(model.dtype), batch["pixel_attention_mask"])


def image_states(tokens: Sequence[Any], frames: int, cfg: CaptionerModelConfig) -> Any:
    """What fills the prompt's image slots: every frame's tokens (concat) or the frames' mean."""
    import torch

    if cfg.frame_pooling == "concat":
        return torch.cat(list(tokens))
    return torch.stack([t.reshape(frames, -1, t.shape[-1]).mean(0) for t in tokens])


def prompt_embeds(model: Any, input_ids: Any, states: Any) -> Any:
    """Word embeddings of the prompt with the image slots replaced by ``states`` (Idefics3's merger)."""
    emb = model.get_input_embeddings()(input_ids)
    return model.model.inputs_merger(input_ids, emb, states)


def _lm(model: Any, embeds: Any, mask: Any, cache: Any = None) -> Any:
    return model.model.text_model(inputs_embeds=embeds, attention_mask=mask, cache=cache, use_cache=True)


def _cache(out: Any) -> Any:
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values


def decode(model: Any, embeds: Any, mask: Any, k: int, max_new_tokens: int, temperature: float,
           eos_id: int, pad_id: int) -> tuple[Any, Any]:
    """(greedy ids (clips x T), sampled ids (clips*k x T), clip-major) from one prefill per clip.

    After a row's eos it gets ``pad_id``, and decoding stops when every row has ended (as
    ``generate`` does)."""
    import torch

    n = embeds.shape[0]
    with torch.inference_mode():
        out = _lm(model, embeds, mask)
        cache = _cache(out)
        rows = torch.cat([torch.arange(n), torch.arange(n).repeat_interleave(k)]).to(embeds.device)
        cache.batch_select_indices(rows)
        mask = mask[rows]
        logits = model.lm_head(out.last_hidden_state[:, -1])[rows].float()
        done = torch.zeros(len(rows), dtype=torch.bool, device=embeds.device)
        steps = []
        for _ in range(max_new_tokens):
            greedy = logits[:n].argmax(-1)
            sampled = (torch.multinomial(torch.softmax(logits[n:] / temperature, -1), 1).squeeze(1) if k
                       else greedy[:0])
            nxt = torch.where(done, torch.full_like(greedy[:1], pad_id), torch.cat([greedy, sampled]))
            steps.append(nxt)
            done = done | (nxt == eos_id)
            if bool(done.all()) or len(steps) == max_new_tokens:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            h = _lm(model, model.get_input_embeddings()(nxt[:, None]), mask, cache).last_hidden_state
            logits = model.lm_head(h[:, -1]).float()
        ids = torch.stack(steps, 1)
    return ids[:n].clone(), ids[n:].clone()  # clones: ordinary tensors, usable in the loss graph


def texts(tokenizer: Any, ids: Any) -> list[str]:
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def sample_logprobs(model: Any, embeds: Any, mask: Any, ids: Any, k: int, eos_id: int) -> tuple[Any, Any]:
    """(sum of log p of each sample's tokens up to its first eos, their counts) for ``ids``
    (clips*k x T, clip-major), the prompt run once per clip with gradients and its cache shared."""
    import torch

    out = _lm(model, embeds, mask)
    cache = _cache(out)
    first = model.lm_head(out.last_hidden_state[:, -1:]).repeat_interleave(k, 0)
    if ids.shape[1] > 1:
        cache.batch_repeat_interleave(k)
        full = torch.cat([mask.repeat_interleave(k, 0), torch.ones_like(ids)], 1)[:, :-1]
        h = _lm(model, model.get_input_embeddings()(ids[:, :-1]), full, cache).last_hidden_state
        logits = torch.cat([first, model.lm_head(h)], 1).float()
    else:
        logits = first.float()
    is_eos = (ids == eos_id).long()
    valid = (is_eos.cumsum(1) - is_eos) == 0  # up to and including the first eos
    lp = torch.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    return (lp * valid).sum(1), valid.sum(1).clamp(min=1)


class _Tokens:
    """Stands in for the model in :meth:`AttrPredictor.predict`: hands back tokens already computed."""

    def __init__(self, tokens: Sequence[Any]) -> None:
        self.model, self.tokens = self, list(tokens)

    def get_image_features(self, **_: Any) -> list[Any]:
        return self.tokens


def with_head_tokens(pred: AttrPredictor, tokens: Sequence[Any], chunk: Sequence[B.Encoded],
                     *groups: list[str]) -> tuple[list[str], ...]:
    """:func:`videonav.rl.captioner.vision_aux.with_head` from the clips' tokens (no second tower pass)."""
    attrs = pred.predict(_Tokens([t.detach() for t in tokens]), None, None)
    out = []
    for group in groups:
        per = len(group) // max(len(chunk), 1)
        out.append([pred.apply(t, attrs[i // per], chunk[i // per].ocr or []) for i, t in enumerate(group)])
    return tuple(out)


def greedy_captions(model: Any, processor: Any, chunk: Sequence[B.Encoded], cfg: CaptionerModelConfig,
                    max_new_tokens: int, pred: AttrPredictor | None = None, device: str = "cpu") -> list[str]:
    """Greedy captions of ``chunk`` (after the head's corrections when ``pred``), no gradients."""
    import torch

    tok = processor.tokenizer
    b = {k: v.to(device) for k, v in B.collate(chunk, tok.pad_token_id, with_target=False).items()}
    with torch.no_grad():
        tokens = clip_tokens(model, b)
        emb = prompt_embeds(model, b["input_ids"], image_states(tokens, b["pixel_values"].shape[1], cfg))
    ids, _ = decode(model, emb, b["attention_mask"], 0, max_new_tokens, 1.0, tok.eos_token_id, tok.pad_token_id)
    caps = texts(tok, ids)
    return with_head_tokens(pred, tokens, chunk, caps)[0] if pred is not None else caps


def probe_cider(model: Any, processor: Any, clips: Sequence[B.Encoded], cfg: CaptionerRunConfig, cider: CiderD,
                pred: AttrPredictor | None, autocast: Callable[[], Any]) -> float:
    """Mean greedy CIDEr-D (after the head) of fixed clips: SCST's trend on training clips, where
    one step's two clips are mostly noise (``rl.probe_clips``)."""
    model.eval()
    scores = []
    for i in range(0, len(clips), 8):
        chunk = clips[i:i + 8]
        with autocast():
            caps = greedy_captions(model, processor, chunk, cfg.model, cfg.train.max_new_tokens, pred,
                                   cfg.train.device)
        scores += [cider.score(c, e.refs) for c, e in zip(caps, chunk, strict=True)]
    model.train()
    return sum(scores) / max(len(scores), 1)
