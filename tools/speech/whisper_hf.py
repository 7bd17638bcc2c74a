"""Whisper through transformers: a local weights dir or a model already in the HF cache, never a download.

Each VAD segment (at most 30 s, Whisper's window) is one input; segments are batched through
``generate`` and each becomes one cue with the segment's times. ``asr.model`` names the weights;
without them the error names that setting. Test with a tiny ``WhisperForConditionalGeneration``
built from a ``WhisperConfig`` (``tests/test_speech.py``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from videonav.tools.speech.audio import speech_segments
from videonav.tools.speech.base import ASR, AsrError, Cue

BATCH = 8


def _need_model(cfg: Any, backend: str) -> str:
    model = getattr(cfg, "model", None)
    if not model:
        raise AsrError(f"asr.backend={backend} needs asr.model: a local Whisper weights dir or a model id already "
                       "in the Hugging Face cache (`--asr-model PATH`); nothing is downloaded")
    return str(model)


@ASR.register("whisper")
class WhisperRecognizer:
    """``WhisperForConditionalGeneration`` + its feature extractor and tokenizer from ``asr.model``."""

    name = "whisper"

    def __init__(self, cfg: Any) -> None:
        self.model_id = _need_model(cfg, "whisper")
        self.language = getattr(cfg, "language", None)
        try:
            import torch
            from transformers import AutoTokenizer, WhisperFeatureExtractor, WhisperForConditionalGeneration
        except ImportError as e:
            raise AsrError(f"asr.backend=whisper needs transformers and torch ({e})") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self.features = WhisperFeatureExtractor.from_pretrained(self.model_id, local_files_only=True)
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_id, local_files_only=True)
            self.model = WhisperForConditionalGeneration.from_pretrained(self.model_id, local_files_only=True)
        except (OSError, ValueError) as e:
            raise AsrError(f"asr.model={self.model_id!r}: no Whisper weights there or in the HF cache "
                           f"({str(e).splitlines()[0][:160]}); set asr.model to a local Whisper dir") from None
        dev = getattr(cfg, "device", "cpu")
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if dev == "auto" else dev
        self.model.to(self.device).eval()
        self._torch = torch

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        segs = speech_segments(audio, sample_rate)
        out: list[Cue] = []
        for k in range(0, len(segs), BATCH):
            part = segs[k : k + BATCH]
            clips = [audio[int(a * sample_rate) : int(b * sample_rate)] for a, b in part]
            feats = self.features(clips, sampling_rate=sample_rate, return_tensors="pt").input_features
            room = int(getattr(self.model.config, "max_target_positions", 448)) - 4  # prompt tokens fit too
            kw: dict[str, Any] = {"max_new_tokens": max(1, min(128, room))}
            if self.language and getattr(self.model.generation_config, "lang_to_id", None):
                kw.update(language=self.language, task="transcribe")
            with self._torch.inference_mode():
                ids = self.model.generate(feats.to(self.device, self.model.dtype), **kw)
            texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
            out += [Cue(a, b, t.strip()) for (a, b), t in zip(part, texts, strict=True) if t.strip()]
        return out
