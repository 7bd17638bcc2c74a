"""Cut a span of a video for the demo's player: stream copy, no re-encoding.

Why a cut clip instead of serving the whole file: the page may only read files from the
exports/clips folders (uploads and the store stay private), and a clip of the cited span is
what the user wants to watch. Why stream copy: it is milliseconds even on a busy CPU, and
lossless. A copy can only start on a keyframe, so the clip starts at the keyframe at or before
``start`` and the player is told to seek ``offset`` seconds in (``gr.Video(playback_position)``),
landing on the cited moment. Clips are named by (video content, span), so a second click is free.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

MAX_CLIP_SECONDS = 120.0  # a chapter or a root node may be long: the player gets its first two minutes


class ClipError(ValueError):
    """The span cannot be cut from this file (no video stream, a span outside the video)."""

    user_error = True


@dataclass(frozen=True)
class Clip:
    path: Path
    start: float  # the cited span, in the source video's seconds
    end: float
    offset: float  # seconds into ``path`` where ``start`` is (the clip begins on a keyframe)


def _key(src: Path, start: float, end: float) -> str:
    st = src.stat()
    ident = f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{start:.3f}|{end:.3f}"
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def cut_clip(src: Path | str, start: float, end: float, out_dir: Path | str,
             max_seconds: float = MAX_CLIP_SECONDS) -> Clip:
    """The clip of ``[start, end]`` (at most ``max_seconds``) of ``src`` under ``out_dir``."""
    import av

    src = Path(src)
    if not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0:
        raise ClipError(f"cannot play the span {start!r}-{end!r}: not an ordered span of seconds")
    end = min(end, start + max_seconds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{_key(src, start, end)}.mp4"
    meta = dest.with_suffix(".offset")
    if dest.is_file() and meta.is_file():
        return Clip(dest, start, end, float(meta.read_text()))
    tmp = dest.with_name(dest.stem + f".part{os.getpid()}.mp4")
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise ClipError(f"{src.name}: no video stream to play")
            vin = inp.streams.video[0]
            ains = inp.streams.audio[:1]
            first: float | None = None
            last = -1.0
            with av.open(str(tmp), "w", format="mp4") as out:
                vout = out.add_stream_from_template(vin)
                aout = out.add_stream_from_template(ains[0]) if ains else None
                inp.seek(int(start / vin.time_base), stream=vin, backward=True, any_frame=False)
                for packet in inp.demux(vin, *ains):
                    if packet.dts is None or packet.pts is None:
                        continue
                    t = float(packet.pts * packet.time_base)
                    if packet.stream is vin:
                        last = max(last, t)
                        if first is None:
                            if not packet.is_keyframe:
                                continue  # a copy must open on a keyframe
                            first = t
                        elif t > end and packet.is_keyframe:
                            break
                        target = vout
                    elif first is None or not first - 0.05 <= t <= end + 0.5:
                        continue
                    else:
                        target = aout
                    shift = round(first / packet.time_base)  # the clip's clock starts at 0
                    packet.pts -= shift
                    packet.dts -= shift
                    if packet.dts < 0:
                        continue
                    packet.stream = target
                    out.mux(packet)
            if first is None or last < start - 1.0:
                raise ClipError(f"{src.name}: nothing to play at {start:.1f} s (past the end of the video?)")
    except ClipError:
        tmp.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"{src.name}: cannot cut {start:.1f}-{end:.1f} s for the player ({type(e).__name__})") from e
    os.replace(tmp, dest)
    offset = max(0.0, start - first)
    meta.write_text(f"{offset:.3f}")
    return Clip(dest, start, end, offset)
