"""The vision tower's direct signal: colour/shape labels, the aux head and loss, attribute-weighted SFT,
vision pretraining before SFT, and resume with the head, on a tiny random text model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_vlms import build_tiny_llama, captioner_cfg  # noqa: E402
from videonav.rl.captioner import batch as B  # noqa: E402
from videonav.rl.captioner import vision_aux as V  # noqa: E402
from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES, frame_indices, sample_pairs  # noqa: E402
from videonav.rl.captioner.model import build_captioner, load_captioner  # noqa: E402
from videonav.rl.captioner.train import encode_pairs, pairs_for, train_sft  # noqa: E402


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tinylm_aux"))


_cfg = captioner_cfg


def test_labels_follow_the_generator_and_jitter_moves_the_sprite() -> None:
    plain = list(sample_pairs([100], minutes=3, frames=2, per_video=4))
    moved = list(sample_pairs([100], minutes=3, frames=2, per_video=4, jitter=True))
    from videonav.tools.video import sample_video as sv

    scenes = sv.plan(3, 100)["scenes"][:4]
    for p, s in zip(plain, scenes, strict=True):
        assert p.labels is not None and ATTR_SHAPES[p.labels[1]] == s["shape"]
        assert ATTR_COLOURS[p.labels[0]] in p.refs[0]  # the colour the references say
    assert [p.refs for p in plain] == [p.refs for p in moved]
    assert any(not np.array_equal(a.frames[0], b.frames[0]) for a, b in zip(plain, moved, strict=True))
    again = list(sample_pairs([100], minutes=3, frames=2, per_video=4, jitter=True))
    assert all(np.array_equal(a.frames[1], b.frames[1]) for a, b in zip(moved, again, strict=True))
    idx = frame_indices(300, 3, np.random.default_rng(1))
    assert 0 <= idx[0] < 100 <= idx[1] < 200 <= idx[2] < 300


def test_aux_head_learns_colour_on_fixed_clips(tiny_lm: Path, tmp_path: Path) -> None:
    import torch

    cfg = _cfg(tiny_lm, tmp_path)
    model, processor = build_captioner(cfg.model)
    head = V.make_head(model.config.text_config.hidden_size)
    scenes = V.scenes_of([100, 101], 3)[:8]
    pv, pm = V._pixels(processor, V._clips(scenes, 2, None))
    labels = torch.tensor([V.attr_labels(s) for s in scenes])
    params = [p for n, p in model.named_parameters() if "vision_model" in n or "connector" in n]
    opt = torch.optim.AdamW([*params, *head.parameters()], lr=3e-3)
    losses = []
    for _ in range(40):
        loss, right = V.aux_loss(model, head, pv, pm, labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    assert right.shape == (8, 2) and right.dtype == torch.bool
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    assert float(right[:, 0].float().mean()) == 1.0  # 8 clips: colour memorised
    # the LM never took part: its weights have no gradient from the aux loss
    assert all(p.grad is None for n, p in model.named_parameters() if "text_model" in n)
    # the connector is rescaled to the word embeddings' RMS without changing what the head says
    with torch.no_grad():
        before = [x.argmax(-1) for x in head(V.visual_tokens(model, pv, pm))]
        factor = V.match_token_scale(model, processor, scenes, 2)
        tokens = torch.cat(V.visual_tokens(model, pv, pm))
        after = [x.argmax(-1) for x in head(V.visual_tokens(model, pv, pm))]
    emb = model.get_input_embeddings().weight
    assert factor != pytest.approx(1.0)
    assert float(tokens.pow(2).mean().sqrt()) == pytest.approx(float(emb.pow(2).mean().sqrt()), rel=0.05)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_attribute_weights_and_weighted_loss(tiny_lm: Path, tmp_path: Path) -> None:
    import torch

    cfg = _cfg(tiny_lm, tmp_path, **{"aux.attr_token_weight": 5.0})
    _, processor = build_captioner(cfg.model)
    tok = processor.tokenizer
    cap = "A white circle moves across a dark red slide."
    ids = tok(cap + tok.eos_token, add_special_tokens=False)["input_ids"]
    w = V.attribute_weights(tok, cap, len(ids), 5.0)
    marked = tok.decode([i for i, x in zip(ids, w, strict=True) if x == 5.0])
    assert "circle" in marked and "red" in marked and "white" in marked
    assert "moves" not in marked and "dark" not in marked and float(w[-1]) == 1.0  # eos, filler: 1
    assert torch.equal(V.attribute_weights(tok, cap, len(ids), 1.0), torch.ones(len(ids)))
    model, processor = build_captioner(cfg.model)
    items = encode_pairs(processor, cfg, pairs_for(cfg.data, "train", cfg.model.frames))
    assert all(e.weights is not None and len(e.weights) == len(e.target_ids) for e in items)
    assert all(e.labels is not None for e in items)
    batch = B.collate(items[:3], tok.pad_token_id)
    assert batch["attr_labels"].shape == (3, 2)
    with torch.no_grad():
        weighted = float(B.loss(model.eval(), batch, cfg.model))
        plain = float(B.loss(model, {k: v for k, v in batch.items() if k != "weights"}, cfg.model))
        ones = float(B.loss(model, {**batch, "weights": torch.ones_like(batch["weights"])}, cfg.model))
    assert ones == pytest.approx(plain, rel=1e-5) and weighted != pytest.approx(plain, rel=1e-4)


def test_sft_with_vision_pretraining_and_aux_resumes_exactly(tiny_lm: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    over = {"aux.weight": 0.5, "aux.pretrain_steps": 3, "aux.batch_size": 4, "data.frame_jitter": True}
    logs: list[str] = []
    full = train_sft(_cfg(tiny_lm, tmp_path / "full", **over), log=logs.append)
    assert any(m.startswith("[vision] held-out") for m in logs)
    assert all({"caption_loss", "aux_loss", "shape_acc"} <= h.keys() for h in full["history"])
    sft = tmp_path / "full" / "sft"
    assert (sft / V.PRETRAINED_FILE).is_file() and (sft / V.HEAD_FILE).is_file()
    assert (sft / "model" / V.HEAD_FILE).is_file()  # shipped in the indexable model dir, class names in its json
    assert json.loads((sft / "model" / "videonav_captioner.json").read_text())["attr_head"]["colours"] == \
        list(ATTR_COLOURS)
    load_captioner(sft / "model")
    # a second run of the same output reuses the pretrained tower instead of pretraining again
    part = tmp_path / "part"
    (part / "sft").mkdir(parents=True)
    (part / "sft" / V.PRETRAINED_FILE).write_bytes((sft / V.PRETRAINED_FILE).read_bytes())
    logs = []
    train_sft(_cfg(tiny_lm, part, **over), log=logs.append)
    assert any("loaded the pretrained tower" in m for m in logs)
    assert not any(m.startswith("[vision] held-out") for m in logs)
    (part / "sft" / "model").rename(part / "unused")
    resumed = train_sft(_cfg(tiny_lm, part, **over), resume=True, log=logs.append)
    assert any("resuming from" in m and "checkpoint-2" in m for m in logs)
    a, b = load_file(str(sft / "model" / "model.safetensors")), load_file(str(Path(resumed["model_dir"]) /
                                                                              "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    ha, hb = (torch.load(p / "sft" / V.HEAD_FILE, weights_only=True) for p in (tmp_path / "full", part))
    assert all(torch.allclose(ha[k], hb[k], atol=1e-6) for k in ha)


def test_aux_needs_generated_clips(tiny_lm: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_lm, tmp_path, **{"aux.weight": 1.0, "data.source": "dataset"})
    with pytest.raises(ValueError, match="data.source='sample'"):
        train_sft(cfg, log=lambda m: None)


def test_backend_shows_a_trained_captioner_its_training_frame_count(tiny_lm: Path, tmp_path: Path) -> None:
    from tiny_vlms import frames
    from videonav.tools.captioners.base import CaptionRequest
    from videonav.tools.captioners.ocr_prompt import pick_frames, trained_frames
    from videonav.tools.captioners.transformers import TransformersCaptioner
    from videonav.tools.config import CaptionerConfig

    result = train_sft(_cfg(tiny_lm, tmp_path, **{"train.steps": 1}), log=lambda m: None)
    assert trained_frames(result["model_dir"]) == 2 and trained_frames(tmp_path) is None
    cap = TransformersCaptioner(CaptionerConfig(backend="transformers", model=result["model_dir"], device="cpu",
                                                dtype="float32", max_new_tokens=4))
    four = CaptionRequest(frames=tuple(frames(4)), timestamps=(1.0, 2.0, 3.0, 4.0))
    assert cap._inputs([four])["pixel_values"].shape[1] == 2  # video.frames_per_leaf 4 -> the 2 it learned on
    assert pick_frames(4, 2) == [0, 3] and cap.describe(frames(4), [1.0, 2.0, 3.0, 4.0], "").frames == 4


def test_init_text_takes_a_trained_captioners_text_model_only(tiny_lm: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from videonav.rl.captioner.train import _init_text

    done = train_sft(_cfg(tiny_lm, tmp_path / "a", **{"train.steps": 2}), log=lambda m: None)
    trained = load_file(str(Path(done["model_dir"]) / "model.safetensors"))
    model, _ = build_captioner(_cfg(tiny_lm, tmp_path / "b").model, seed=1)
    vision = {k: v.clone() for k, v in model.state_dict().items() if "vision_model" in k}
    _init_text(model, done["model_dir"])
    state = model.state_dict()
    text = [k for k in trained if k.startswith("model.text_model.")]
    assert text and all(torch.equal(state[k], trained[k]) for k in text)
    assert all(torch.equal(state[k], v) for k, v in vision.items())  # the vision side stays its own
    with pytest.raises(ValueError, match="init_text"):
        _init_text(model, str(tmp_path))


def test_colour_weights_draw_every_colour_equally() -> None:
    from collections import defaultdict

    from videonav.rl.captioner.train import colour_weights

    items = [B.Encoded(f"c{i}", None, None, None, None, [], labels=(c, 0)) for i, c in enumerate([0, 0, 0, 1, 7])]
    w = colour_weights(items)
    assert w is not None
    per: dict[int, float] = defaultdict(float)
    for e, x in zip(items, w, strict=True):
        per[e.labels[0]] += x
    assert list(per.values()) == pytest.approx([1.0, 1.0, 1.0])
    assert colour_weights([*items, B.Encoded("x", None, None, None, None, [])]) is None  # unlabelled data
