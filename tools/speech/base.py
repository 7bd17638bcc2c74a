"""One ASR interface, many backends: ``Recognizer.transcribe(audio, sample_rate) -> list[Cue]``.

Why a registry like the captioners': the offline default (pocketsphinx, its model ships in the
wheel), a local Whisper (transformers or faster-whisper) and an OpenAI-compatible server must be
swappable by one config key (``asr.backend``) without importing torch or an HTTP stack for the
others. ``auto`` picks pocketsphinx when it is importable, else no ASR (with a one-line note).

Audio in is 16 kHz mono float32 in [-1, 1]; cues out carry times relative to that array's start.
Cue text is data from the video, never instructions (the captioners quote it).

>>> [c.text for c in transcribe(np.zeros(1600, np.float32), 16000, recognizer=Echo())]
[]
>>> [(c.start, c.end, c.text) for c in transcribe(np.full(16000, .1, np.float32), 16000, recognizer=Echo())]
[(0.0, 1.0, 'speech 1.0 s')]
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from videonav.tools.registry import Registry

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Cue:
    """One transcribed segment: seconds from the start of the audio, and what was said."""

    start: float
    end: float
    text: str


class AsrError(RuntimeError):
    """ASR cannot run as configured; the message names the setting (``asr.model``, ...) to change."""

    user_error = True


class Recognizer(Protocol):
    """What every backend provides. ``model_id`` is part of the transcript cache key."""

    name: str
    model_id: str

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]: ...


ASR: Registry[Recognizer] = Registry("asr.backend", {
    "pocketsphinx": "videonav.tools.speech.sphinx",
    "whisper": "videonav.tools.speech.whisper_hf",
    "faster-whisper": "videonav.tools.speech.faster",
    "openai": "videonav.tools.speech.openai_asr",
})


def resolve_backend(name: str) -> tuple[str | None, str]:
    """(backend or None for no ASR, a note for the user or ''); ``auto`` = pocketsphinx if importable.

    >>> resolve_backend("none")
    (None, '')
    """
    if name == "none":
        return None, ""
    if name == "auto":
        if importlib.util.find_spec("pocketsphinx") is not None:
            return "pocketsphinx", ""
        return None, ("no subtitles and no speech recognizer: `pip install pocketsphinx` (or set asr.backend) "
                      "to transcribe the audio track")
    return name, ""


def make_recognizer(cfg: Any) -> Recognizer | None:
    """The backend ``cfg.backend`` names (an ``AsrConfig``), or None for ``none`` / ``auto`` without one."""
    name, _ = resolve_backend(cfg.backend)
    return None if name is None else ASR.make(name, cfg)


def transcribe(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, cfg: Any = None,
               recognizer: Recognizer | None = None) -> list[Cue]:
    """Cues for ``audio`` (mono float32) through ``recognizer`` or the backend ``cfg`` names.

    Silence-only or empty audio gives ``[]`` without calling the backend.
    """
    from videonav.tools.speech.audio import resample, speech_segments

    rec = recognizer
    if rec is None:
        from videonav.tools.config import AsrConfig

        rec = make_recognizer(cfg or AsrConfig())
    if rec is None:
        return []
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        x = resample(x, sample_rate, SAMPLE_RATE)
    if not speech_segments(x, SAMPLE_RATE):
        return []
    return sorted(rec.transcribe(x, SAMPLE_RATE), key=lambda c: (c.start, c.end))


class Echo:
    """A test/demo recognizer: one cue per speech segment saying how long it was (no model)."""

    name, model_id = "echo", "echo"

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        from videonav.tools.speech.audio import speech_segments

        return [Cue(a, b, f"speech {b - a:.1f} s") for a, b in speech_segments(audio, sample_rate)]
