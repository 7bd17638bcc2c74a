"""Which of a question's options was *said* in a clip: phone-level spotting with pocketsphinx.

Why not the transcript: free decoding of synthetic or noisy speech gets few content words right
("Remember the secret word: parrot." came back as "where does the word there"), but the phones
it hears are close: ``P EH R AH T`` is found, with one or two errors, in the phone string of the
clip. So the clip is decoded once with pocketsphinx's phone recogniser (``allphone``, cached by
the caller) and each option's dictionary pronunciation is matched against every utterance by
approximate substring edit distance; the option with the smallest normalised distance wins.
Measured on espeak-ng narration: 12/20 options right in isolated sentences vs 8/20 from the
word transcript (chance 4/20); see ``bench/asr.py``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from videonav.tools.speech.audio import pcm16, speech_segments
from videonav.tools.speech.sphinx import decoder, model_dir

_SKIP = {"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+UM+", "+UH+", "+SMACK+", "+NOISE+"}


@lru_cache(maxsize=2)
def pronunciations(root: str) -> dict[str, list[str]]:
    """The first pronunciation of every word in the model's dictionary."""
    out: dict[str, list[str]] = {}
    with open(Path(root) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as f:
        for line in f:
            w, *ph = line.split()
            out.setdefault(w, ph)
    return out


def option_phones(option: str, cfg: Any = None) -> list[str]:
    """Phones of an option's words (unknown words: none, so the option cannot be spotted)."""
    d = pronunciations(str(model_dir(cfg)))
    words = re.findall(r"[a-z']+", option.lower())
    if not words or any(w not in d for w in words):
        return []
    return [p for w in words for p in d[w]]


def substring_distance(pattern: list[str], text: list[str]) -> float:
    """Edit distance of ``pattern`` to its best-matching substring of ``text``, per pattern phone.

    >>> substring_distance(["P", "EH", "R", "AH", "T"], "DH AH W ER D P EH R AH T".split())
    0.0
    >>> substring_distance(["P", "EH", "R", "AH", "T"], "DH AH W ER D P EH M AH".split())
    0.4
    """
    if not pattern:
        return 1.0
    prev = [0] * (len(text) + 1)
    for i, p in enumerate(pattern, 1):
        cur = [i] + [0] * len(text)
        for j, t in enumerate(text, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (p != t))
        prev = cur
    return min(prev) / len(pattern)


class Spotter:
    """Phone strings of audio and option scores; one phone decoder, loaded on first use."""

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg
        self._dec: Any = None

    def phones(self, audio: np.ndarray, sample_rate: int = 16000) -> list[list[str]]:
        """One phone list per speech segment of ``audio`` (16 kHz mono)."""
        if self._dec is None:
            m = model_dir(self.cfg) / "en-us"
            self._dec = decoder(self.cfg, allphone=str(m / "en-us-phone.lm.bin"), lw=2.0, beam=1e-20,
                                pbeam=1e-20)
        out = []
        for a, b in speech_segments(audio, sample_rate):
            self._dec.start_utt()
            self._dec.process_raw(pcm16(audio[int(a * sample_rate) : int(b * sample_rate)]), full_utt=True)
            self._dec.end_utt()
            ph = [s.word for s in (self._dec.seg() or []) if s.word not in _SKIP]
            if ph:
                out.append(ph)
        return out


def option_scores(segments: list[list[str]], options: list[str], cfg: Any = None) -> list[float]:
    """Per option, 1 - its best normalised phone distance over ``segments`` (0 = not found / unknown)."""
    out = []
    for o in options:
        pat = option_phones(o, cfg)
        if not pat or not segments:
            out.append(0.0)
            continue
        out.append(max(0.0, 1.0 - min(substring_distance(pat, seg) for seg in segments)))
    return out


def best_option(scores: list[float], margin: float = 0.05) -> int | None:
    """The clear winner's index, or None when the two best are within ``margin`` (a guess is worse
    than letting the other evidence decide).

    >>> best_option([0.2, 0.8, 0.5]), best_option([0.5, 0.52, 0.1])
    (1, None)
    """
    if not scores:
        return None
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    if scores[order[0]] <= 0 or (len(order) > 1 and scores[order[0]] - scores[order[1]] < margin):
        return None
    return order[0]


def focus(segments: list[list[str]], cue: str, cfg: Any = None, window: int = 1) -> list[list[str]]:
    """The segment that best matches ``cue`` (the question's own words, e.g. "secret word") and the
    ``window`` segments after it, joined: where the answer is said. Long clips hold many
    sentences whose phones match a short option by chance; the cue phrase narrows the search to
    the utterance the question is about. Without a usable cue: all segments."""
    pat = option_phones(cue, cfg)
    if not pat or not segments:
        return segments
    best = min(range(len(segments)), key=lambda i: substring_distance(pat, segments[i]))
    return [[p for seg in segments[best : best + 1 + window] for p in seg]]
