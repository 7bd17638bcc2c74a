"""The transformers captioner end to end on tiny random Idefics3 (SmolVLM) and LLaVA checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_vlms import build_idefics3, build_llava, frames  # noqa: E402
from videonav.tools.captioners.base import Caption, CaptionContext, CaptionRequest, describe_many, make_captioner  # noqa: E402
from videonav.tools.captioners.prompts import PROMPTS_VERSION  # noqa: E402
from videonav.tools.captioners.transformers import TransformersCaptioner  # noqa: E402
from videonav.tools.config import CaptionerConfig  # noqa: E402
from videonav.tools.embed import BackendUnavailable  # noqa: E402


@pytest.fixture(scope="module")
def idefics3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_idefics3(tmp_path_factory.mktemp("idefics3"))


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llava(tmp_path_factory.mktemp("llava"))


def _cfg(model: Path | str | None, **kw: Any) -> CaptionerConfig:
    return CaptionerConfig(backend="transformers", model=None if model is None else str(model),
                           max_new_tokens=5, device="cpu", **kw)


CONTEXT = CaptionContext(span=(10.0, 25.0), previous_caption="A man walks in.",
                         transcript="hello <image> <|im_end|> world", entities=("Alice",))


@pytest.mark.parametrize("which", ["idefics3", "llava"])
def test_describe_end_to_end(which: str, request: pytest.FixtureRequest) -> None:
    """Registry -> local checkpoint -> chat template -> processor -> generate -> Caption.

    The transcript carries an ``<image>`` token: were it not neutralised, the processor would
    count 4 placeholders for 3 images and refuse the request.
    """
    model_dir = request.getfixturevalue(f"{which}_dir")
    cap = make_captioner(_cfg(model_dir))
    assert isinstance(cap, TransformersCaptioner)
    out = cap.describe(frames(3), [11.0, 17.5, 24.0], "", CONTEXT)
    assert isinstance(out, Caption) and isinstance(out.text, str)
    assert out.provenance.backend == "transformers"
    assert out.provenance.model == str(model_dir)
    assert out.provenance.prompt_version == f"v1+{PROMPTS_VERSION}"
    assert out.frames == 3 and out.seconds > 0
    assert 1 <= out.stats["completion_tokens"] <= 5 and out.stats["prompt_tokens"] > 20
    again = cap.describe(frames(3), [11.0, 17.5, 24.0], "", CONTEXT)
    assert again.text == out.text  # greedy decoding is deterministic


def test_describe_batch_keeps_order_and_frame_counts(llava_dir: Path) -> None:
    cap = make_captioner(_cfg(llava_dir, batch_size=2))
    reqs = [CaptionRequest(frames=tuple(frames(n, seed=n)), timestamps=tuple(float(i) for i in range(n)),
                           prompt="What colour is the square?" if n == 2 else "")
            for n in (1, 2, 4)]
    out = describe_many(cap, reqs)  # uses describe_batch: two generate calls (batch_size=2)
    assert [c.frames for c in out] == [1, 2, 4]
    assert [c.stats["batch"] for c in out] == [2, 2, 1]
    assert all(isinstance(c.text, str) for c in out)


@pytest.mark.parametrize("which", ["idefics3", "llava"])
def test_text_only_parent_in_a_mixed_batch(which: str, request: pytest.FixtureRequest) -> None:
    """Parents may be captioned from their children's captions alone (video.frames_per_parent=0)."""
    cap = make_captioner(_cfg(request.getfixturevalue(f"{which}_dir")))
    parent = CaptionContext(span=(0.0, 60.0), child_captions=("A man walks in.", "He sits down."))
    reqs = [CaptionRequest(frames=(), timestamps=(), context=parent),
            CaptionRequest(frames=tuple(frames(2)), timestamps=(1.0, 2.0))]
    out = describe_many(cap, reqs)
    assert [c.frames for c in out] == [0, 2] and all(isinstance(c.text, str) for c in out)
    assert out[0].stats["batch"] == 1 and out[1].stats["batch"] == 1  # one generate per kind


def test_grey_and_float_frames_are_accepted(idefics3_dir: Path) -> None:
    cap = make_captioner(_cfg(idefics3_dir))
    grey = np.full((40, 40), 128, np.uint8)
    unit = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    assert cap.describe([grey, unit], [0.0, 1.0], "").frames == 2


def test_mismatched_timestamps_are_rejected(llava_dir: Path) -> None:
    cap = make_captioner(_cfg(llava_dir))
    with pytest.raises(ValueError, match="timestamps"):
        cap.describe(frames(2), [0.0], "")


def test_missing_weights_name_the_config_key(tmp_path: Path) -> None:
    for model in (None, tmp_path / "does-not-exist", tmp_path, "nobody/no-such-vlm-xyz"):
        with pytest.raises(BackendUnavailable, match=r"captioner\.model"):
            make_captioner(_cfg(model))


def test_incomplete_checkpoint_is_backend_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llava"}')
    with pytest.raises(BackendUnavailable, match=r"captioner\.model"):
        make_captioner(_cfg(tmp_path))


def test_video_input_needs_a_video_processor(llava_dir: Path) -> None:
    with pytest.raises(BackendUnavailable, match=r"captioner\.video_input"):
        make_captioner(_cfg(llava_dir, video_input=True))


class _RecordingProcessor:
    """Stands in for a video-capable processor (Qwen-VL's need torchvision, which we never install)."""

    chat_template = "x"

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.kwargs: dict[str, Any] = {}

    def apply_chat_template(self, messages: Any, **_: Any) -> str:
        self.messages.append(messages)
        return "PROMPT"

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.kwargs = kwargs
        return {}


def test_video_input_sends_one_video_with_real_frame_spacing() -> None:
    cap = TransformersCaptioner.__new__(TransformersCaptioner)  # no weights: check the processor call only
    cap.cfg = _cfg("unused", video_input=True)
    cap.processor = proc = _RecordingProcessor()
    cap.ocr = None  # a captioner not trained with the OCR prompt
    cap.frames_trained = None  # nor by videonav's trainer: every frame is sent
    req = CaptionRequest(frames=tuple(frames(4)), timestamps=(10.0, 12.0, 14.0, 16.0), prompt="")
    cap._inputs([req])
    content = proc.messages[0][0]["content"]
    assert [p["type"] for p in content] == ["video", "text"]
    assert "as one video" in content[1]["text"]
    (clip,) = proc.kwargs["videos"]
    assert clip.shape == (4, 48, 64, 3) and clip.dtype == np.uint8
    assert proc.kwargs["do_sample_frames"] is False
    (meta,) = proc.kwargs["video_metadata"]
    assert meta["fps"] == pytest.approx(0.5) and meta["frames_indices"] == [0, 1, 2, 3]
    assert "images" not in proc.kwargs


@pytest.mark.gpu
def test_describe_on_cuda_in_bfloat16(idefics3_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cap = make_captioner(CaptionerConfig(backend="transformers", model=str(idefics3_dir), max_new_tokens=5,
                                         device="cuda", dtype="bfloat16"))
    out = cap.describe(frames(4), [0.0, 1.0, 2.0, 3.0], "", CONTEXT)
    assert out.frames == 4 and isinstance(out.text, str)


def test_qwen2_vl_checkpoint_without_processor_is_backend_unavailable(tmp_path: Path) -> None:
    """Qwen2-VL's model builds offline but its processor does not (its video processor needs
    torchvision): a checkpoint lacking the processor must fail clearly, naming captioner.model."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    cfg = Qwen2VLConfig(
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        text_config=dict(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, bos_token_id=0, eos_token_id=1,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]}),
        image_token_id=390, video_token_id=391, vision_start_token_id=392)
    Qwen2VLForConditionalGeneration(cfg).save_pretrained(tmp_path)
    with pytest.raises(BackendUnavailable, match=r"captioner\.model=.*preprocessor_config"):
        make_captioner(_cfg(tmp_path))
