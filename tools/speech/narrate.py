"""Narration for the sample-video generator: the subtitle script spoken by ``espeak-ng`` into an audio track.

Why: the generator's spoken-only facts (the secret words) reach the index only through the
``.srt``; with ``--narrate --no-srt`` they exist only as speech, which is what tests the ASR
path end to end. Each cue is synthesised (``-v en-us -s 130``: the clearest of the espeak voices
and rates we measured for pocketsphinx) and placed at its start time, truncated at the next
cue; the track is AAC, muxed beside the untouched video stream. Without espeak-ng the track is
silent, with a warning, so the video still has the same layout.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import warnings
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from videonav.tools.speech.audio import resample

RATE = 16000
VOICE, SPEED = "en-us", 130


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, voice: str = VOICE, speed: int = SPEED) -> np.ndarray:
    """``text`` spoken by espeak-ng, 16 kHz mono float32 (text is passed as an argument, never a shell)."""
    raw = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", "--", text],
                         capture_output=True, check=True, timeout=60).stdout
    with wave.open(io.BytesIO(raw)) as w:
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return resample(x, sr, RATE)


def narration(cues: Sequence[tuple[float, float, str]], duration: float, voice: str = VOICE,
              speed: int = SPEED) -> np.ndarray:
    """The whole track: each cue's speech at its start, cut where the next cue starts (or the end)."""
    track = np.zeros(int(duration * RATE), np.float32)
    if not have_espeak():
        warnings.warn("espeak-ng not found (apt-get install espeak-ng): the narration track is silent",
                      stacklevel=2)
        return track
    starts = [c[0] for c in cues] + [duration]
    for (a, _b, text), nxt in zip(cues, starts[1:], strict=True):
        x = synthesize(text, voice, speed)
        i, j = int(a * RATE), min(len(track), int(nxt * RATE))
        n = max(0, min(len(x), j - i))
        track[i : i + n] = x[:n] * 0.9
    return track


def add_audio(video: Path | str, audio: np.ndarray, rate: int = RATE) -> None:
    """Rewrite ``video`` with ``audio`` as an AAC track (video packets copied, interleaved by time)."""
    import av

    video = Path(video)
    fd, tmp = tempfile.mkstemp(suffix=video.suffix, dir=video.parent)
    os.close(fd)
    try:
        with av.open(str(video)) as src, av.open(tmp, "w") as dst:
            vin = src.streams.video[0]
            vout = dst.add_stream_from_template(vin)
            aout = dst.add_stream("aac", rate=rate, layout="mono")
            step = 1024
            pos = 0
            pcm = np.clip(audio, -1, 1).astype(np.float32)

            def audio_until(t: float | None) -> None:
                nonlocal pos
                while pos < len(pcm) and (t is None or pos / rate <= t):
                    chunk = pcm[pos : pos + step]
                    if len(chunk) < step:
                        chunk = np.pad(chunk, (0, step - len(chunk)))
                    fr = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
                    fr.sample_rate, fr.pts = rate, pos
                    for p in aout.encode(fr):
                        dst.mux(p)
                    pos += step

            for pkt in src.demux(vin):
                if pkt.dts is None:
                    continue
                audio_until(float(pkt.dts * pkt.time_base))
                pkt.stream = vout
                dst.mux(pkt)
            audio_until(None)
            for p in aout.encode(None):
                dst.mux(p)
        os.replace(tmp, video)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def narrate_video(video: Path | str, cues: Sequence[tuple[float, float, str]], duration: float) -> float:
    """Add the narration of ``cues`` to ``video``; returns seconds of speech synthesised."""
    track = narration(cues, duration)
    add_audio(video, track)
    return float(np.count_nonzero(np.abs(track) > 1e-4)) / RATE
