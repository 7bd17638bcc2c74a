"""The trained captioner's colour/shape head at caption time: the policy on text (replace, add, keep
the sprite's ink and on-screen words), the head shipped in the model dir and used by the
transformers backend, the bench's captions and SCST's rewards, and no change without a head."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from tiny_vlms import build_tiny_llama, captioner_cfg, frames  # noqa: E402
from videonav.rl.captioner import vision_aux as V  # noqa: E402
from videonav.rl.captioner.data import ATTR_COLOURS, ATTR_SHAPES, frames_key  # noqa: E402
from videonav.rl.captioner.train import caption_pairs, pairs_for, train_scst, train_sft  # noqa: E402
from videonav.tools.captioners import attr_head as AH  # noqa: E402

C, S = list(ATTR_COLOURS), list(ATTR_SHAPES)
RAW = "A white square moves from left to right across a dark blue slide titled the red planet."


def test_agree_replaces_adds_and_keeps_ink_and_screen_text() -> None:
    # contradicted colour phrase and shape replaced, article fixed, the sprite's ink kept
    assert AH.agree("A white square moves across a dark blue slide.", "orange", "circle", C, S) == \
        "A white circle moves across an orange slide."
    assert AH.agree("An orange slide; a circle.", "dark red", None, C, S) == "A dark red slide; a circle."
    # a colour word that is on-screen text stays: uppercase, or spelled so in the OCR lines
    assert AH.agree("A grey slide titled RED 1.", "pink", None, C, S) == "A pink slide titled RED 1."
    assert AH.agree(RAW, "orange", "circle", C, S, ["the red planet"]) == RAW.replace(
        "square", "circle").replace("a dark blue", "an orange")
    assert "the orange planet" in AH.agree(RAW, "orange", None, C, S)  # without OCR it is fair game
    # missing attributes are added; an unconfident head (None) changes nothing
    assert AH.agree("A slide titled CITY OSLO", "red", "triangle", C, S) == \
        "A red slide titled CITY OSLO. A triangle moves across it."
    assert AH.agree("Text NUMBER 7.", "cyan", None, C, S) == "Text NUMBER 7. The slide is cyan."
    assert AH.agree(RAW, None, None, C, S) == RAW


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tinylm_head"))


def _ocr_cfg(tiny_lm: Path, out: Path, **over: Any) -> Any:
    cfg = captioner_cfg(tiny_lm, out, **{"model.ocr_prompt": True, "aux.weight": 0.5, "train.steps": 1, **over})
    cache = Path(cfg.output) / "ocr_cache.json"  # filled by hand: no tesseract in the tests
    cache.parent.mkdir(parents=True, exist_ok=True)
    pairs = pairs_for(cfg.data, "train", cfg.model.frames) + pairs_for(cfg.data, "eval", cfg.model.frames)
    cache.write_text(json.dumps({frames_key(p.frames): ["the red planet"] for p in pairs}), encoding="utf-8")
    return cfg


def _force(model_dir: Path, colour: str, shape: str) -> None:
    """Re-install the dir's head with zero weights and a bias that always says (colour, shape)."""
    import torch

    state = torch.load(model_dir / AH.HEAD_FILE, weights_only=True)
    for name, cls, pick in (("colour", C, colour), ("shape", S, shape)):
        state[f"{name}.weight"].zero_()
        state[f"{name}.bias"].fill_(-10.0)
        state[f"{name}.bias"][cls.index(pick)] = 10.0
    V.install_head(model_dir, state, threshold=0.9)


@pytest.fixture(scope="module")
def head_dir(tiny_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("headrun")
    model_dir = Path(train_sft(_ocr_cfg(tiny_lm, out), log=lambda m: None)["model_dir"])
    _force(model_dir, "orange", "circle")
    return model_dir


def test_trainer_ships_the_head_inside_the_model_dir(head_dir: Path) -> None:
    meta = AH.head_meta(head_dir)
    assert meta is not None and meta["colours"] == C and meta["shapes"] == S and meta["threshold"] == 0.9
    pred = AH.load_predictor(head_dir)
    assert pred is not None and pred.colours == C
    assert AH.load_predictor(head_dir.parent) is None  # not a model dir: no head


def _captioner(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import videonav.tools.captioners.transformers as T
    from videonav.tools.config import CaptionerConfig

    class FakeReader:
        def __init__(self, workers: int = 1) -> None:
            pass

        def lines(self, groups: list) -> list[list[str]]:
            return [["the red planet"] for _ in groups]

    monkeypatch.setattr(T, "OcrReader", FakeReader)
    cap = T.TransformersCaptioner(CaptionerConfig(backend="transformers", model=str(model_dir), device="cpu",
                                                  dtype="float32", max_new_tokens=3))
    monkeypatch.setattr(cap.processor, "batch_decode", lambda ids, **kw: [RAW] * len(ids))  # a known caption
    return cap


def test_backend_caption_agrees_with_a_forced_head(head_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = _captioner(head_dir, monkeypatch)
    got = cap.describe(frames(2), [0.0, 1.0], "")
    assert got.text == "A white circle moves from left to right across an orange slide titled the red planet."
    assert got.stats["attr_head"]["colour"] == "orange" and got.stats["attr_head"]["p_shape"] > 0.99
    assert "head0.9-" in cap.prompt_version
    version = cap.prompt_version
    # a question's answer (non-empty prompt) is not a leaf caption: left as the LM wrote it
    assert cap.describe(frames(2), [0.0, 1.0], "What shape is it?").text == RAW
    _force(head_dir, "green", "triangle")
    try:
        other = _captioner(head_dir, monkeypatch)
        assert "green slide" in other.describe(frames(2), [0.0, 1.0], "").text
        assert other.prompt_version != version  # another head: stored captions are not reused
    finally:
        _force(head_dir, "orange", "circle")


def test_dir_without_a_head_captions_as_before(tiny_lm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    plain = Path(train_sft(_ocr_cfg(tiny_lm, tmp_path, **{"aux.weight": 0.0}), log=lambda m: None)["model_dir"])
    assert not (plain / AH.HEAD_FILE).exists()
    cap = _captioner(plain, monkeypatch)
    got = cap.describe(frames(2), [0.0, 1.0], "")
    assert got.text == RAW and "attr_head" not in got.stats and "head" not in cap.prompt_version


def test_bench_captions_and_scst_rewards_see_the_head(head_dir: Path, tiny_lm: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    cfg = _ocr_cfg(tiny_lm, tmp_path)
    pairs = pairs_for(cfg.data, "eval", cfg.model.frames)
    with_head = caption_pairs(head_dir, cfg, pairs)
    without = caption_pairs(head_dir, cfg, pairs, use_head=False)
    assert all("orange" in t and "circle" in t for t in with_head.values())
    assert not any("orange" in t for t in without.values())
    seen: list[str] = []

    def rewards(sampled: list[str], greedy: list[str], refs: list[list[str]]) -> list[float]:
        seen.extend(sampled + greedy)
        return [1.0 - 2.0 * (i % 2) for i in range(len(sampled))]

    rcfg = _ocr_cfg(tiny_lm, tmp_path, **{"rl.init": str(head_dir), "rl.freeze_vision": True, "train.steps": 1})
    done = train_scst(rcfg, log=lambda m: None, rewards=rewards)
    assert seen and all("orange" in t for t in seen)
    a, b = load_file(str(head_dir / "model.safetensors")), load_file(str(Path(done["model_dir"]) /
                                                                         "model.safetensors"))
    vision = [k for k in a if "vision_model" in k or "connector" in k]
    assert vision and all(torch.equal(a[k], b[k]) for k in vision)  # frozen: the head still fits
    assert any(not torch.equal(a[k], b[k]) for k in a if "text_model" in k)
    rl_head = AH.load_predictor(done["model_dir"])
    assert rl_head is not None and rl_head.threshold == 0.9  # shipped on, with the start model's threshold


def test_head_refit_brightens_scenes_fits_and_refuses_eval_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from videonav.rl.captioner import head_refit as R
    from videonav.rl.captioner.data import attr_labels
    from videonav.tools.video import sample_video as sv

    scenes = V.scenes_of([100], 3)
    bright = R.brightened(scenes, 1.0, 0)
    assert all(s["bg"] == sv.BRIGHT[s["colour"]] and C[attr_labels(s)[0]] == s["colour"] for s in bright)
    assert [s["shape"] for s in bright] == [s["shape"] for s in scenes]  # only the background changes
    assert R.brightened(scenes, 0.0, 0) == scenes
    # a separable toy problem: the fit moves the head from chance to right
    torch.manual_seed(0)
    y = torch.stack([torch.randint(0, len(C), (64,)), torch.randint(0, len(S), (64,))], 1)
    z = torch.randn(64, 16) + torch.nn.functional.one_hot(y[:, 0], 16).float() * 4
    z[:, :3] += torch.nn.functional.one_hot(y[:, 1], 3).float() * 4
    head = AH.make_head(8, len(C), len(S))
    before = R.accuracy(head, z, y)
    losses = R.fit(head, z, y, steps=200, lr=1e-2)
    after = R.accuracy(head, z, y)
    assert losses[-1] < 0.3 * losses[0] and after["colour"] > 0.95 > before["colour"]
    assert R.main(["nowhere", "--seeds", "150-210"]) == 1
    assert "evaluation seeds" in capsys.readouterr().err
