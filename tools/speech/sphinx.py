"""pocketsphinx backend: offline, CPU, no download (the en-us model ships in the wheel).

Each VAD segment is decoded as one utterance (batch CMN over the segment, which suits short
utterances better than live CMN) and becomes one cue. The decoder is built once per recognizer:
loading the model takes about a second. Accuracy on clean human speech is modest and on
synthetic (espeak-ng) speech poor; the spoken-word tool in :mod:`.spot` is what makes such audio
usable for questions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from videonav.tools.speech.audio import pcm16, speech_segments
from videonav.tools.speech.base import ASR, AsrError, Cue

FAST = {"beam": 1e-40, "wbeam": 1e-30, "pbeam": 1e-40}
"""Narrower beams than pocketsphinx's defaults (1e-48): about 2x faster, same words on our clips."""
_FILLER = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+.*\+)$")


def model_dir(cfg: Any = None) -> Path:
    """``asr.model`` when set (a pocketsphinx model dir with ``en-us/``), else the wheel's model."""
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        raise AsrError("asr.backend=pocketsphinx needs `pip install pocketsphinx` (or set asr.backend: none)") \
            from None
    root = Path(getattr(cfg, "model", None) or get_model_path())
    if not (root / "en-us" / "en-us").is_dir():
        raise AsrError(f"asr.model={str(root)!r} is not a pocketsphinx model dir (expected en-us/en-us inside); "
                       "unset asr.model to use the model in the pocketsphinx wheel")
    return root


def decoder(cfg: Any = None, **options: Any) -> Any:
    """A quiet 16 kHz pocketsphinx ``Decoder`` on the configured model (``options`` as pocketsphinx's)."""
    from pocketsphinx import Decoder

    m = model_dir(cfg) / "en-us"
    base: dict[str, Any] = {"hmm": str(m / "en-us"), "dict": str(m / "cmudict-en-us.dict"),
                            "samprate": 16000, "loglevel": "FATAL"}
    if not any(k in options for k in ("allphone", "kws", "keyphrase", "jsgf", "fsg")):
        base["lm"] = str(m / "en-us.lm.bin")
    try:
        return Decoder(**{**base, **options})
    except (RuntimeError, ValueError) as e:
        raise AsrError(f"pocketsphinx could not load its model from {m} ({e}); reinstall pocketsphinx") from None


@ASR.register("pocketsphinx")
class SphinxRecognizer:
    """Free decoding with the wheel's US-English language model."""

    name = "pocketsphinx"

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg
        self.model_id = str(getattr(cfg, "model", None) or "en-us")
        self._dec: Any = None

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        if sample_rate != 16000:
            raise AsrError(f"pocketsphinx expects 16 kHz audio, got {sample_rate} Hz")
        if self._dec is None:
            self._dec = decoder(self.cfg, **FAST)
        out = []
        for a, b in speech_segments(audio, sample_rate):
            text = decode_text(self._dec, audio[int(a * sample_rate) : int(b * sample_rate)])
            if text:
                out.append(Cue(a, b, text))
        return out


def decode_text(dec: Any, x: np.ndarray) -> str:
    """One utterance through ``dec``: the hypothesis without fillers and pronunciation variants."""
    dec.start_utt()
    dec.process_raw(pcm16(x), full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    words = (hyp.hypstr if hyp else "").split()
    return " ".join(re.sub(r"\(\d+\)$", "", w) for w in words if not _FILLER.match(w))
