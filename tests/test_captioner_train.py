"""The trainable captioner on a tiny random text model: SFT lowers loss, SCST runs, resume is exact,
and the saved directory captions through ``--captioner transformers`` unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("pycocoevalcap")

from tiny_vlms import build_tiny_llama, captioner_cfg, frames  # noqa: E402
from videonav.rl.captioner import batch as B  # noqa: E402
from videonav.rl.captioner.config import load_captioner_config  # noqa: E402
from videonav.rl.captioner.data import EVAL_SEEDS, TRAIN_SEEDS, sample_pairs, scene_captions  # noqa: E402
from videonav.rl.captioner.model import build_captioner, load_captioner  # noqa: E402
from videonav.rl.captioner.rewards import CiderD  # noqa: E402
from videonav.rl.captioner.train import encode_pairs, pairs_for, train_scst, train_sft  # noqa: E402


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer random Llama with a byte-level BPE tokenizer (ChatML specials): stands in for SmolLM2."""
    return build_tiny_llama(tmp_path_factory.mktemp("tinylm"))


_cfg = captioner_cfg


def _weights(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def test_data_captions_and_seed_split() -> None:
    s = {"kind": "scene", "title": "BIRDS 3", "text": "NUMBER 1234", "shape": "triangle", "colour": "",
         "bg": (20, 70, 40), "chapter": "Birds"}
    caps = scene_captions(s)
    assert len(caps) == 3 and all("triangle" in c and "dark green" in c for c in caps)
    assert set(TRAIN_SEEDS).isdisjoint(EVAL_SEEDS)
    pairs = list(sample_pairs([100], minutes=3, frames=3, per_video=2))
    assert len(pairs) == 2 and all(len(p.frames) == 3 and p.frames[0].shape == (360, 640, 3) for p in pairs)
    assert pairs[0].timestamps == sorted(pairs[0].timestamps)
    assert not (pairs[1].frames[0] == pairs[1].frames[-1]).all()  # the sprite moved


def test_sft_lowers_loss_and_mean_pooling_trains(tiny_lm: Path, tmp_path: Path) -> None:
    import torch

    for pooling in ("concat", "mean"):
        cfg = _cfg(tiny_lm, tmp_path / pooling, **{"model.frame_pooling": pooling, "train.steps": 6})
        model, processor = build_captioner(cfg.model)
        items = encode_pairs(processor, cfg, pairs_for(cfg.data, "train", cfg.model.frames))
        batch = B.collate(items[:4], processor.tokenizer.pad_token_id)
        with torch.no_grad():
            before = float(B.loss(model.eval(), batch, cfg.model))
        result = train_sft(cfg, log=lambda m: None, items=items)
        trained, _, _ = load_captioner(result["model_dir"])
        with torch.no_grad():
            after = float(B.loss(trained.eval(), batch, cfg.model))
        assert after < before - 0.1, (pooling, before, after)


def test_resume_matches_uninterrupted_run(tiny_lm: Path, tmp_path: Path) -> None:
    import torch

    full = train_sft(_cfg(tiny_lm, tmp_path / "full"), log=lambda m: None)
    part = tmp_path / "part"
    train_sft(_cfg(tiny_lm, part), log=lambda m: None)
    (part / "sft" / "model").rename(part / "unused")
    for ck in (part / "sft").glob("checkpoint-*"):
        assert ck.name == "checkpoint-2"  # save_steps 2 of 4: one checkpoint mid-run
    logs: list[str] = []
    resumed = train_sft(_cfg(tiny_lm, part), resume=True, log=logs.append)
    assert any("resuming from" in m and "checkpoint-2" in m for m in logs)
    assert [h["step"] for h in resumed["history"]] == [1, 2, 3, 4]
    a, b = _weights(Path(full["model_dir"])), _weights(Path(resumed["model_dir"]))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_scst_step_runs_and_changes_weights(tiny_lm: Path, tmp_path: Path) -> None:
    import torch

    sft = train_sft(_cfg(tiny_lm, tmp_path, **{"train.steps": 2}), log=lambda m: None)
    cfg = _cfg(tiny_lm, tmp_path, **{"train.steps": 2, "rl.samples": 2})
    # a random model's captions share no n-gram with the references: every CIDEr-D advantage is 0
    # and so is the gradient; the default reward must run, and a non-zero one must move the weights
    zero = train_scst(cfg, log=lambda m: None)
    assert all(h["reward"] == 0.0 and "greedy_cider" in h for h in zero["history"])
    calls: list[int] = []

    def alternate(sampled: list[str], greedy: list[str], refs: list[list[str]]) -> list[float]:
        assert len(sampled) == len(greedy) == len(refs) == 2 * cfg.train.batch_size
        calls.append(len(sampled))
        return [1.0 if i % 2 == 0 else -1.0 for i in range(len(sampled))]

    probed = cfg.model_copy(update={"rl": cfg.rl.model_copy(update={"probe_clips": 2})})
    rl = train_scst(probed, log=lambda m: None, rewards=alternate)
    assert len(calls) == 2 and all(h["reward"] == 0.0 for h in rl["history"])
    # the training-clip probe: before the first step and at every save step (save_steps 2)
    assert "probe_start" in rl["history"][0] and "probe_cider" in rl["history"][1]
    a, b = _weights(Path(sft["model_dir"])), _weights(Path(rl["model_dir"]))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="captioner-sft"):
        train_scst(_cfg(tiny_lm, tmp_path / "nosft"), log=lambda m: None)


def test_cider_matches_pycocoevalcap() -> None:
    import random

    from pycocoevalcap.cider.cider import Cider

    rng = random.Random(0)
    words = "a the red blue square circle moves slides right left slide number title".split()
    refs = {f"c{i}": [" ".join(rng.choices(words, k=rng.randint(3, 9))) for _ in range(rng.randint(1, 3))]
            for i in range(20)}
    preds = {k: " ".join(rng.choices(words, k=rng.randint(2, 8))) for k in refs}
    _, each = Cider().compute_score(refs, {k: [v] for k, v in preds.items()})
    ours = CiderD(refs)
    assert [ours.score(preds[k], refs[k]) for k in refs] == pytest.approx(list(each), abs=1e-9)


def test_trained_dir_captions_through_transformers_backend(tiny_lm: Path, tmp_path: Path) -> None:
    from videonav.agent.cli import main
    from videonav.tools.captioners.transformers import TransformersCaptioner
    from videonav.tools.config import CaptionerConfig

    rc = main(["train", "captioner-sft", "--config", "captioner_tiny", "--model", str(tiny_lm),
               "--output", str(tmp_path), "--max-steps", "1"])
    assert rc == 0
    cap = TransformersCaptioner(CaptionerConfig(backend="transformers", model=str(tmp_path / "sft" / "model"),
                                                device="cpu", dtype="float32", max_new_tokens=4))
    out = cap.describe(frames(2), [0.0, 1.0], "")
    assert isinstance(out.text, str) and out.stats["completion_tokens"] >= 1
    assert main(["train", "captioner-sft", "--config", "nope.yaml"]) == 1


@pytest.mark.slow
def test_smollm2_captioner_keeps_the_pretrained_text_model(tmp_path: Path) -> None:
    """The real build: SmolLM2-135M's weights land in Idefics3's text model (same next-token logits)."""
    import torch

    from videonav.agent.llm.transformers import load_model, resolve_source
    from videonav.tools.embed import BackendUnavailable

    try:
        lm, tok = load_model(resolve_source(None, None))
    except BackendUnavailable as e:
        pytest.skip(str(e))
    cfg = load_captioner_config("captioner_sft", {"output": str(tmp_path)})
    model, processor = build_captioner(cfg.model)
    ids = tok("The slide shows a red square", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want = lm(ids).logits[0, -1]
        got = model(input_ids=ids).logits[0, -1, : want.shape[0]]
    assert torch.allclose(want, got, atol=1e-4)
