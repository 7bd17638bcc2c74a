"""faster-whisper (CTranslate2) backend, an optional extra: ``pip install faster-whisper``.

Import-guarded: without the package the error says how to install it or which backend to pick.
Its own VAD is off (ours already cut the audio); segment times come from faster-whisper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videonav.tools.speech.base import ASR, AsrError, Cue
from videonav.tools.speech.whisper_hf import _need_model


@ASR.register("faster-whisper")
class FasterWhisperRecognizer:
    """``faster_whisper.WhisperModel(asr.model)`` on CPU int8 (or CUDA float16 with asr.device=cuda)."""

    name = "faster-whisper"

    def __init__(self, cfg: Any) -> None:
        self.model_id = _need_model(cfg, "faster-whisper")
        self.language = getattr(cfg, "language", None)
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise AsrError("asr.backend=faster-whisper needs `pip install faster-whisper` "
                           "(or use asr.backend: whisper / pocketsphinx)") from None
        dev = getattr(cfg, "device", "cpu")
        dev = "auto" if dev not in ("cpu", "cuda") else dev
        try:
            self.model = WhisperModel(self.model_id, device=dev, compute_type="int8" if dev == "cpu" else "default",
                                      local_files_only=True)
        except Exception as e:  # noqa: BLE001 - CTranslate2 raises plain RuntimeErrors for missing files
            raise AsrError(f"asr.model={self.model_id!r}: cannot load faster-whisper weights ({e}); "
                           "set asr.model to a converted CTranslate2 Whisper dir") from None

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        segments, _ = self.model.transcribe(audio.astype(np.float32), language=self.language, vad_filter=False)
        return [Cue(float(s.start), float(s.end), s.text.strip()) for s in segments if s.text.strip()]
