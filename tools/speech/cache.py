"""A video's transcript: chunk by chunk, each chunk stored the moment it is transcribed.

Table ``asr_chunks`` (created IF NOT EXISTS in the videonav store) keyed by (video hash, backend,
model + settings, chunk number); chunk -1 marks a finished transcript. Why chunks: transcribing
an hour takes minutes, and an index killed half-way must not redo them; a rerun skips every
stored chunk (the audio is still demuxed, which is fast) and a finished transcript is read back
without touching the file at all.

Bad audio never stops an index: no audio stream, an unopenable or broken stream, or silence
only give an empty (or partial) transcript and a one-line note.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videonav.tools.speech.audio import AudioUnreadable, NoAudio, iter_chunks
from videonav.tools.speech.base import Cue, Recognizer, make_recognizer, resolve_backend

SCHEMA = """CREATE TABLE IF NOT EXISTS asr_chunks (video_hash TEXT NOT NULL, backend TEXT NOT NULL,
  model TEXT NOT NULL, chunk INTEGER NOT NULL, start REAL NOT NULL, end_s REAL NOT NULL, cues TEXT NOT NULL,
  PRIMARY KEY (video_hash, backend, model, chunk))"""
VERSION = "asr1"
"""Bump when segmentation or chunking changes: part of the cache key."""


class TranscriptCache:
    """Stored chunks of one (video, recognizer) in a ``Store`` (its connection, its write guard)."""

    def __init__(self, store: Any, video_hash: str, backend: str, model: str) -> None:
        self.store, self.key = store, (video_hash, backend, model)
        with store._write("creating the transcript table"):
            store._db.execute(SCHEMA)

    def chunks(self) -> dict[int, list[Cue]]:
        rows = self.store._db.execute("SELECT chunk, cues FROM asr_chunks WHERE video_hash=? AND backend=? AND "
                                      "model=?", self.key).fetchall()
        return {int(k): [Cue(*c) for c in json.loads(v)] for k, v in rows}

    def put(self, chunk: int, start: float, end: float, cues: list[Cue]) -> None:
        with self.store._write("caching the transcript"):
            self.store._db.execute("INSERT OR REPLACE INTO asr_chunks VALUES (?,?,?,?,?,?,?)",
                                   (*self.key, chunk, start, end,
                                    json.dumps([[c.start, c.end, c.text] for c in cues])))


def transcribe_file(path: Path | str, cfg: Any, *, store: Any = None, video_hash: str | None = None,
                    recognizer: Recognizer | None = None, duration: float = 0.0,
                    progress: Callable[[float, float, str], None] | None = None) -> tuple[list[Cue], str]:
    """(cues with times in the video, a note for the user or '') for the audio of ``path``.

    ``cfg`` is an ``AsrConfig``; ``store`` (optional) caches chunks under ``video_hash``.
    Configuration errors (unknown backend, missing weights, server down) raise ``AsrError``;
    audio problems do not. ``progress(seconds done, duration, "speech")`` after each chunk.
    """
    rec = recognizer
    if rec is None:
        name, note = resolve_backend(cfg.backend)
        if name is None:
            return [], note
        rec = make_recognizer(cfg)
        assert rec is not None
    chunk_s = float(getattr(cfg, "chunk_seconds", 60.0))
    cache = None
    done: dict[int, list[Cue]] = {}
    if store is not None:
        from videonav.memory.store import file_hash

        cache = TranscriptCache(store, video_hash or file_hash(path), rec.name,
                                f"{rec.model_id}|{VERSION}|{chunk_s:g}")
        done = cache.chunks()
        if -1 in done:
            return sorted((c for k, cs in done.items() if k >= 0 for c in cs), key=lambda c: c.start), ""
    out: list[Cue] = []
    note = ""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k, (t0, x) in enumerate(iter_chunks(path, chunk_s)):
                if k in done:
                    cues = done[k]
                else:
                    cues = [Cue(round(t0 + c.start, 3), round(t0 + c.end, 3), c.text)
                            for c in rec.transcribe(x, 16000)]
                    if cache is not None:
                        cache.put(k, t0, t0 + len(x) / 16000, cues)
                out += cues
                if progress:
                    progress(t0 + len(x) / 16000, max(duration, t0 + len(x) / 16000), "speech")
        if caught:
            note = str(caught[0].message)
    except NoAudio as e:
        return [], str(e)
    except AudioUnreadable as e:
        return out, str(e)
    if cache is not None:
        cache.put(-1, 0.0, 0.0, [])
    if not out and not note:
        note = f"{path}: no speech found in the audio track"
    return sorted(out, key=lambda c: (c.start, c.end)), note
