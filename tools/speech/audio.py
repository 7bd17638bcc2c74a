"""The audio track as 16 kHz mono float32, in chunks, and where in it someone speaks.

- **Chunked decoding** (:func:`iter_chunks`): an hour of 16 kHz float32 is 230 MB; chunks of about
  a minute keep memory flat and are the unit the transcript cache stores, so an interrupted
  index resumes at the first chunk not yet transcribed. A chunk ends at the quietest 30 ms frame
  near its nominal end, so words are not cut in half, and the cut depends only on the audio (a
  rerun cuts at the same places).
- **Energy VAD** (:func:`speech_segments`): frames above an adaptive threshold (noise floor +
  10 dB, between -45 and -30 dBFS), gaps under 0.35 s bridged, blips under 0.15 s dropped, segments
  split at their quietest frame beyond ``max_seconds`` (Whisper's 30 s window). Decoders see
  only speech: silence costs nothing and cannot be hallucinated into words.
"""

from __future__ import annotations

import io
import warnings
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from videonav.tools.speech.base import SAMPLE_RATE, AsrError

FRAME = 0.03


class NoAudio(AsrError):
    """The file has no audio stream (a silent screen recording): no transcript, not an error for indexing."""


class AudioUnreadable(AsrError):
    """The audio track cannot be opened or decoded at all (corrupt file)."""


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling (enough for speech models' 16 kHz input)."""
    if sr_in == sr_out or len(x) == 0:
        return x.astype(np.float32)
    n = int(round(len(x) * sr_out / sr_in))
    return np.interp(np.arange(n) * (sr_in / sr_out), np.arange(len(x)), x).astype(np.float32)


def open_audio(path: Path | str) -> tuple[Any, list[Any]]:
    """(PyAV container, its audio streams); :class:`AudioUnreadable` / :class:`NoAudio` say why not."""
    import av

    from videonav.tools.video.probe import ffmpeg_reason

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise AudioUnreadable(f"{path}: cannot open the audio track ({ffmpeg_reason(e)}); "
                              "pass --asr none to index without speech") from None
    streams = list(container.streams.audio)
    if not streams:
        container.close()
        raise NoAudio(f"{path}: no audio stream; nothing to transcribe")
    return container, streams


def iter_chunks(path: Path | str, chunk_seconds: float = 60.0) -> Iterator[tuple[float, np.ndarray]]:
    """(start second, samples) of the first audio stream, ~``chunk_seconds`` each, cut in quiet frames.

    Raises :class:`NoAudio` without an audio stream, :class:`AudioUnreadable` when it cannot be opened;
    a stream that breaks mid-way ends early with a warning (what was decoded is kept).
    """
    import av

    container, streams = open_audio(path)
    with container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        buf: list[np.ndarray] = []
        have, t0 = 0, 0.0
        target = int(chunk_seconds * SAMPLE_RATE)
        try:
            for frame in container.decode(streams[0]):
                for out in resampler.resample(frame):
                    buf.append(out.to_ndarray().reshape(-1).astype(np.float32))
                    have += buf[-1].size
                if have >= target + 5 * SAMPLE_RATE:
                    x = np.concatenate(buf)
                    cut = quiet_cut(x, target)
                    yield t0, x[:cut]
                    t0 += cut / SAMPLE_RATE
                    buf, have = [x[cut:]], x.size - cut
            for out in resampler.resample(None):
                buf.append(out.to_ndarray().reshape(-1).astype(np.float32))
        except (av.FFmpegError, ValueError) as e:
            warnings.warn(f"{path}: audio stream broken after {t0 + have / SAMPLE_RATE:.0f} s ({e}); "
                          "transcribing what was decoded", stacklevel=2)
        x = np.concatenate(buf) if buf else np.zeros(0, np.float32)
        if x.size:
            yield t0, x


def load_audio(path: Path | str) -> np.ndarray:
    """The whole first audio track at 16 kHz mono (short files, tests and benchmarks)."""
    parts = [x for _, x in iter_chunks(path, 1e9)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def quiet_cut(x: np.ndarray, target: int, window: int = 5 * SAMPLE_RATE) -> int:
    """Sample index of the quietest frame within ``window`` of ``target``."""
    f = int(FRAME * SAMPLE_RATE)
    lo, hi = max(f, target - window), min(len(x) - f, target + window)
    if hi <= lo:
        return min(len(x), target)
    starts = np.arange(lo, hi, f)
    e = np.array([float(np.mean(x[s : s + f] ** 2)) for s in starts])
    return int(starts[int(np.argmin(e))])


def frame_db(x: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Energy of each 30 ms frame in dBFS."""
    f = int(FRAME * sr)
    n = len(x) // f
    if n == 0:
        return np.zeros(0)
    e = np.mean(x[: n * f].reshape(n, f).astype(np.float64) ** 2, axis=1)
    return 10 * np.log10(e + 1e-12)


def speech_segments(x: np.ndarray, sr: int = SAMPLE_RATE, *, min_silence: float = 0.35, min_speech: float = 0.15,
                    pad: float = 0.1, max_seconds: float = 30.0, floor_db: float = -45.0) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in ``x``.

    >>> sr = 16000; t = np.arange(sr) / sr; tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    >>> speech_segments(np.concatenate([np.zeros(sr), tone, np.zeros(sr)]).astype(np.float32), sr)
    [(0.89, 2.11)]
    >>> speech_segments(np.zeros(3 * sr, np.float32), sr)
    []
    """
    db = frame_db(x, sr)
    if db.size == 0:
        return []
    thr = max(floor_db, min(float(np.percentile(db, 10)) + 10.0, -30.0))  # speech throughout: -30
    on = db > thr
    segs: list[list[int]] = []
    for i in np.flatnonzero(on):
        if segs and i - segs[-1][1] <= min_silence / FRAME:
            segs[-1][1] = int(i) + 1
        else:
            segs.append([int(i), int(i) + 1])
    out: list[tuple[float, float]] = []
    dur = len(x) / sr
    for a, b in segs:
        if (b - a) * FRAME < min_speech:
            continue
        for s, e in _split(db, a, b, int(max_seconds / FRAME)):
            out.append((round(max(0.0, s * FRAME - pad), 3), round(min(dur, e * FRAME + pad), 3)))
    return out


def _split(db: np.ndarray, a: int, b: int, most: int) -> list[tuple[int, int]]:
    """[a, b) split at its quietest inner frames until every piece is at most ``most`` frames."""
    if b - a <= most:
        return [(a, b)]
    lo, hi = a + most // 3, min(b - 1, a + most)
    cut = lo + int(np.argmin(db[lo:hi])) if hi > lo else a + most
    return [(a, cut), *_split(db, cut, b, most)]


def wav_bytes(x: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV of ``x`` (what HTTP transcription endpoints accept)."""
    bio = io.BytesIO()
    with wave.open(bio, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return bio.getvalue()


def pcm16(x: np.ndarray) -> bytes:
    """Raw little-endian int16 samples (pocketsphinx's input)."""
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
