"""Probing video files: what is in them, and typed errors for everything a user can get wrong.

Every failure a user can cause (missing, empty, truncated, corrupt, audio-only files) becomes a
typed :class:`VideoError` whose message names the file and the fix; the CLI prints it as one
line (see ``videonav.agent.errors``). Decoding lives in :mod:`videonav.tools.video.readers`.
Frames are RGB ``uint8`` arrays (H, W, 3) with the exact presentation time of each decoded frame.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict


class VideoError(RuntimeError):
    """A video (or its subtitles) cannot be used; the message says which file and what to do."""

    user_error = True


class VideoNotFound(VideoError):
    """The path does not exist or is not a file."""


class VideoDecodeError(VideoError):
    """The file exists but cannot be decoded: empty, truncated, corrupt or not a video."""


class NoVideoStream(VideoError):
    """The container has no video track (e.g. an audio-only file)."""


class SubtitleError(VideoError):
    """A subtitle file or stream cannot be read."""


class TruncatedVideo(UserWarning):
    """The file is cut off; only its decodable start is indexed (the CLI prints it as one line)."""


class SubtitleStream(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int
    codec: str
    language: str = ""


class VideoInfo(BaseModel):
    """What :func:`probe` learns without decoding more than two frames."""

    model_config = ConfigDict(frozen=True)
    path: str
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    codec: str
    size_bytes: int
    has_audio: bool = False
    subtitle_streams: tuple[SubtitleStream, ...] = ()
    truncated_from: float | None = None
    """The header's duration when the file is cut off and ``duration`` is what decodes."""


@dataclass
class Frames:
    """Decoded frames with their exact presentation times (seconds)."""

    images: list[np.ndarray] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


def fix_hint(p: Path) -> str:
    return f"re-export it, e.g. `ffmpeg -i {p.name} -c:v libx264 -c:a aac fixed.mp4`"


def ffmpeg_reason(e: Exception) -> str:
    """FFmpeg's words without PyAV's ``[Errno 1094995529]`` prefix and the repeated path.

    >>> ffmpeg_reason(OSError(1094995529, "Invalid data found when processing input", "x.mp4"))
    'invalid data found when processing input'
    """
    text = getattr(e, "strerror", None) or str(e)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(text)).split(": '")[0]
    return text[:1].lower() + text[1:]


def probe(path: Path | str) -> VideoInfo:
    """Open, inspect and spot-check a video (first and last frame decode) or raise a :class:`VideoError`.

    Decoding the last second catches files whose header promises more than the file holds
    (truncated downloads): better a clear error now than silent black leaves an hour in.
    """
    import av

    from videonav.memory.paths import missing_reason

    p = Path(path)
    why = missing_reason(p)
    if why:
        raise VideoNotFound(why)
    if not p.is_file():
        raise VideoNotFound(f"{p}: not a file (a directory?); pass a video file")
    size = p.stat().st_size
    if size == 0:
        raise VideoDecodeError(f"{p}: file is empty (0 bytes); the copy or download failed, fetch it again")
    try:
        container = av.open(str(p))
    except av.FFmpegError as e:
        raise VideoDecodeError(f"{p}: cannot be opened as a video, it is corrupt, truncated or not a video "
                               f"({ffmpeg_reason(e)}); {fix_hint(p)}") from None
    with container:
        streams = list(container.streams)
        vstreams = [s for s in container.streams.video if s.codec_context.width]
        if not vstreams:
            kinds = ", ".join(sorted({s.type for s in streams})) or "none"
            raise NoVideoStream(f"{p}: no video stream (streams: {kinds}); videonav needs a file with "
                                "a video "
                                "track (an audio-only file cannot be indexed)")
        v = vstreams[0]
        fps = float(v.average_rate or v.guessed_rate or 0.0) or 25.0
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = _demux_duration(container, v)
        subs = tuple(SubtitleStream(index=s.index, codec=s.codec_context.name if s.codec_context else "",
                                    language=str(s.metadata.get("language", "")))
                     for s in streams if s.type == "subtitle")
        has_audio = any(s.type == "audio" for s in streams)
        codec = v.codec_context.name
        width, height = int(v.codec_context.width), int(v.codec_context.height)
        first = _first_frame_time(container, v, 0.0)
        if first is None:
            raise VideoDecodeError(f"{p}: no decodable video frame; the file is corrupt, {fix_hint(p)}")
        if duration <= 0:
            raise VideoDecodeError(f"{p}: zero-length video; nothing to index")
        last = _first_frame_time(container, v, max(0.0, duration - 1.0))
        truncated_from = None
        if last is None or last < duration - max(3.0, 0.05 * duration):
            got = "nothing" if last is None else f"{last:.1f} s"
            # a cut-off download with its index up front: index what decodes, as ffmpeg would play it
            present = _demux_duration(container, v, present_only=True)
            end = _first_frame_time(container, v, max(0.0, present - 1.0)) if present > 1.0 else None
            if end is None or end < 1.0:
                raise VideoDecodeError(f"{p}: truncated, the header says {duration:.1f} s but decoding "
                                       "near the end "
                                       f"gives {got}; download it again or {fix_hint(p)}")
            truncated_from, duration = duration, end + 1.0 / fps
            warnings.warn(TruncatedVideo(
                f"{p}: truncated, the header says {truncated_from:.1f} s but only the first {duration:.1f} s "
                f"decode; indexing those and leaving out the last {truncated_from - duration:.1f} s "
                f"(download it again for the rest)"), stacklevel=2)
    frames = int(v.frames) if v.frames else int(round(duration * fps))
    return VideoInfo(path=str(p), duration=duration, fps=fps, width=width, height=height, frames=frames,
                     codec=codec, size_bytes=size, has_audio=has_audio, subtitle_streams=subs,
                     truncated_from=truncated_from)


def _demux_duration(container: Any, v: Any, present_only: bool = False) -> float:
    """Duration from packet timestamps when the header has none (e.g. a cut-off Matroska file);
    ``present_only``: only packets whose data is in the file (an MP4 cut off after its index)."""
    import av

    end = 0.0
    try:
        if present_only:  # after a failed decode near the end the demuxer sits at EOF
            container.seek(0)
        for pkt in container.demux(v):
            if present_only and not pkt.size:
                continue
            if pkt.pts is not None and pkt.time_base is not None:
                end = max(end, float((pkt.pts + (pkt.duration or 0)) * pkt.time_base))
    except (av.FFmpegError, EOFError):
        pass
    container.seek(0)
    return end


def _first_frame_time(container: Any, v: Any, at: float) -> float | None:
    import av

    try:
        container.seek(int(at / v.time_base), stream=v, backward=True)
        for frame in container.decode(v):
            t = frame.time
            if t is not None and t >= at - 1e-3:
                return float(t)
    except (av.FFmpegError, EOFError):
        return None
    return None
