"""Any OpenAI-compatible ``POST {base_url}/audio/transcriptions`` (OpenAI, vLLM, whisper.cpp server, ...).

Through the official client, set up by :mod:`videonav.tools.openai_client` like the planner's and
the captioner's (config values, else ``OPENAI_BASE_URL``/``OPENAI_API_KEY``; the client's retries;
no proxy for a local server). The audio (one cache chunk, about a minute) goes up as a 16-bit WAV
with ``response_format=verbose_json``; the answer's ``segments`` become cues, or, from servers
that return only ``text``, one cue spanning the speech.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from videonav.tools.openai_client import make_client, resolve, server_message
from videonav.tools.speech.audio import speech_segments, wav_bytes
from videonav.tools.speech.base import ASR, AsrError, Cue


@ASR.register("openai")
class OpenAIRecognizer:
    """Transcription over HTTP; ``asr.base_url`` required, ``asr.model`` defaults to ``whisper-1``."""

    name = "openai"

    def __init__(self, cfg: Any, max_retries: int = 3, timeout: float = 300.0) -> None:
        base, key = resolve(getattr(cfg, "base_url", None), getattr(cfg, "api_key", None))
        if not base:
            raise AsrError("asr.backend=openai needs asr.base_url (or OPENAI_BASE_URL), e.g. http://127.0.0.1:8000/v1")
        self.url = base.rstrip("/") + "/audio/transcriptions"
        self.model_id = getattr(cfg, "model", None) or "whisper-1"
        self.language = getattr(cfg, "language", None)
        self.client = make_client(base, key, timeout, max_retries)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        segs = speech_segments(audio, sample_rate)
        if not segs:
            return []
        ans = self._post(wav_bytes(audio, sample_rate))
        dur = len(audio) / sample_rate
        out = []
        for s in ans.get("segments") or []:
            text = str(s.get("text", "")).strip() if isinstance(s, dict) else ""
            if text:
                a = min(dur, max(0.0, float(s.get("start", 0.0))))
                out.append(Cue(a, min(dur, max(a, float(s.get("end", a)))), text))
        if not out and str(ans.get("text", "")).strip():
            out.append(Cue(segs[0][0], segs[-1][1], str(ans["text"]).strip()))
        return out

    def _post(self, wav: bytes) -> dict[str, Any]:
        import openai

        kw: dict[str, Any] = {"model": self.model_id, "file": ("audio.wav", wav, "audio/wav"),
                              "response_format": "verbose_json"}
        if self.language:
            kw["language"] = self.language
        try:
            text = self.client.audio.transcriptions.with_raw_response.create(**kw).text
        except openai.APIStatusError as e:
            try:
                msg = server_message(e.response.text)
            except Exception:  # noqa: BLE001 - a body we cannot read still has a status
                msg = str(e)
            raise AsrError(f"{self.url}: HTTP {e.status_code}: {msg[:200]} (check asr.base_url, asr.model, "
                           "asr.api_key)") from None
        except openai.APIConnectionError as e:
            raise AsrError(f"{self.url}: no answer ({e.__cause__ or e}); is the server at asr.base_url running?") \
                from None
        try:
            data = json.loads(text)
        except ValueError:
            raise AsrError(f"{self.url}: the answer is not JSON: {text[:120]!r}") from None
        if not isinstance(data, dict):
            raise AsrError(f"{self.url}: the answer is not a JSON object: {text[:120]!r}")
        return data
