"""Speech as the index's cues: what :mod:`videonav.tools.video.index` calls when a video has no subtitles.

Transcribed segments become ``TimedText`` cues exactly like subtitle cues, so leaves get them as
their transcript and the captioners render them as ``Speech: "..."``. The transcript is cached
in the store chunk by chunk (:mod:`.cache`), which is what lets an interrupted index resume
without transcribing again and keeps the tree key stable across reruns.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from videonav.memory.tree import TimedText
from videonav.tools.speech.base import make_recognizer, resolve_backend


def speech_cues(path: Path | str, info: Any, asr: Any, store: Any, video_hash: str,
                progress: Any = None) -> tuple[list[TimedText], str]:
    """(cues, source label such as ``speech:pocketsphinx:en-us``) or ``([], "")`` without speech.

    Videos without an audio stream, or with silence only, give no cues quietly; an unreadable
    audio track or a missing recognizer gives one warning; a misconfigured backend raises.
    """
    name, note = resolve_backend(asr.backend)
    if name is None:
        if note:
            warnings.warn(note, stacklevel=2)
        return [], ""
    if info is not None and not getattr(info, "has_audio", True):
        return [], ""
    from videonav.tools.speech.cache import transcribe_file

    rec = make_recognizer(asr)
    assert rec is not None
    dur = float(getattr(info, "duration", 0.0) or 0.0)
    cues, note = transcribe_file(path, asr, store=store, video_hash=video_hash, recognizer=rec, duration=dur,
                                 progress=(lambda d, t, s: progress(100 * d / max(t, 1e-9), 100, s))
                                 if progress else None)
    if note and not note.endswith("no speech found in the audio track") and "no audio stream" not in note:
        warnings.warn(note, stacklevel=2)
    out = [TimedText(start=c.start, end=max(c.end, c.start + 1e-3), text=c.text) for c in cues if c.text.strip()]
    return out, (f"speech:{rec.name}:{rec.model_id}" if out else "")
