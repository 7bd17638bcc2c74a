"""The cheap SCST step (rl/captioner/scst.py) against the old one on a tiny random Idefics3: the same
greedy captions as ``generate``, samples on their own clip's prompt, the head's labels from the
shared tokens, and the same loss and gradients as the old full forward of every (clip, sample)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("transformers")

import numpy as np  # noqa: E402

from tiny_vlms import build_tiny_llama, captioner_cfg  # noqa: E402
from videonav.rl.captioner import batch as B  # noqa: E402
from videonav.rl.captioner import scst as S  # noqa: E402
from videonav.rl.captioner.model import build_captioner  # noqa: E402

K = 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Any, list[B.Encoded]]:
    import torch

    lm = build_tiny_llama(tmp_path_factory.mktemp("lm2"), num_hidden_layers=2)
    cfg = captioner_cfg(lm, tmp_path_factory.mktemp("out"))
    model, processor = build_captioner(cfg.model, seed=3)
    torch.manual_seed(1)
    with torch.no_grad():  # large random weights and noise frames: distinct clips get distinct captions
        for n, p in model.named_parameters():
            if "norm" not in n:
                p.normal_(0, 0.2 if "vision" in n else 0.5)
    noise = [np.random.default_rng(i).integers(0, 255, (2, 48, 64, 3)).astype(np.uint8) for i in range(2)]
    items = [B.encode(processor, cfg.model, f"c{i}", list(f), [0.0, 1.0], "", ["x"]) for i, f in enumerate(noise)]
    return model.float().eval(), processor, cfg, items


def _prompt(model: Any, processor: Any, items: list[B.Encoded], cfg: Any) -> tuple[dict[str, Any], list[Any], Any]:
    b = B.collate(items, processor.tokenizer.pad_token_id, with_target=False)
    tokens = S.clip_tokens(model, b)
    return b, tokens, S.image_states(tokens, b["pixel_values"].shape[1], cfg.model)


def test_decode_matches_generate_and_keeps_samples_on_their_clip(setup: Any) -> None:
    import torch

    model, processor, cfg, items = setup
    tok = processor.tokenizer
    _, full, width = B.generate(model, processor, items, cfg.model, max_new_tokens=8)
    want = full[:, width:]
    with torch.no_grad():
        b, _, states = _prompt(model, processor, items, cfg)
        emb = S.prompt_embeds(model, b["input_ids"], states)
    g, s = S.decode(model, emb, b["attention_mask"], K, 8, 1e-6, tok.eos_token_id, tok.pad_token_id)
    assert torch.equal(g, want) and not torch.equal(want[0], want[1])
    # at a near-zero temperature a sample is its clip's greedy caption: rows are clip-major
    assert torch.equal(s, want.repeat_interleave(K, 0))
    _, s1 = S.decode(model, emb, b["attention_mask"], K, 8, 1.0, tok.eos_token_id, tok.pad_token_id)
    assert s1.shape[0] == 2 * K and len({tuple(r.tolist()) for r in s1}) > 1


def _old_logprobs(model: Any, processor: Any, rep: list[B.Encoded], ids: Any, cfg: Any) -> tuple[Any, Any]:
    """The session-6 path: every (clip, sample) row through tower + prompt + sample, LM head everywhere."""
    import torch

    tok = processor.tokenizer
    rows = []
    for i, e in enumerate(rep):
        new = ids[i]
        stop = (new == tok.eos_token_id).nonzero()
        new = new[: int(stop[0]) + 1] if len(stop) else new
        rows.append(B.Encoded(e.clip_id, e.prompt_ids, e.pixel_values, e.pixel_mask, new, e.refs))
    b = B.collate(rows, tok.pad_token_id)
    logits = model(**B._model_inputs(model, b, cfg.model)).logits[:, :-1].float()
    labels = b["labels"][:, 1:]
    mask = labels != -100
    lp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(1), mask.sum(1).clamp(min=1)


def _grads(model: Any, loss: Any) -> dict[str, Any]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


def test_shared_prompt_loss_and_gradients_equal_the_old_path(setup: Any) -> None:
    import torch

    model, processor, cfg, items = setup
    tok = processor.tokenizer
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tok) - 8, (2 * K, 7), generator=gen)
    ids[0, 2] = ids[3, 5] = ids[4, 0] = tok.eos_token_id  # ends at different places; rows 1, 2, 5 never end
    ids[0, 4] = tok.eos_token_id  # after the first eos: not scored
    adv = torch.tensor([1.0, -0.5, 2.0, -1.0, 0.3, -2.0])
    rep = [e for e in items for _ in range(K)]
    old_lp, old_n = _old_logprobs(model, processor, rep, ids, cfg)
    old = _grads(model, -(adv * old_lp / old_n).mean())
    b, _, states = _prompt(model, processor, items, cfg)  # tower with gradients: its grads are compared too
    lp, n = S.sample_logprobs(model, S.prompt_embeds(model, b["input_ids"], states), b["attention_mask"], ids, K,
                              tok.eos_token_id)
    assert n.tolist() == old_n.tolist() == [3, 7, 7, 6, 1, 7]
    assert torch.allclose(lp, old_lp, atol=1e-4, rtol=1e-4)
    new = _grads(model, -(adv * lp / n).mean())
    assert set(new) == set(old) and any("vision_model" in k for k in new)
    for k in old:
        assert float((new[k] - old[k]).norm()) <= 1e-3 * float(old[k].norm()) + 1e-7, k  # float noise only


def test_head_labels_from_shared_tokens_equal_a_fresh_tower_pass(setup: Any) -> None:
    import torch

    from videonav.rl.captioner import vision_aux as V
    from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES
    from videonav.tools.captioners.attr_head import AttrPredictor

    model, processor, cfg, items = setup
    head = V.make_head(model.config.text_config.hidden_size, seed=2)
    pred = AttrPredictor(head, ATTR_COLOURS, ATTR_SHAPES, 0.0)
    caps = ["A square on a red slide.", "A circle on a blue slide."]
    with torch.no_grad():
        _, tokens, _ = _prompt(model, processor, items, cfg)
    want = V.with_head(pred, model, processor, items, caps, caps * 2)
    got = S.with_head_tokens(pred, tokens, items, caps, caps * 2)
    assert got == want and got[0] != caps
    other = S.with_head_tokens(pred, tokens[::-1], items, caps)  # tokens of the wrong clip change the words
    assert other[0] != want[0]
