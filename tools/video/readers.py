"""Decoding frames: one reader interface, two decoders, chosen per access pattern.

Why two decoders, and which one when (measured with ``bench/index.py`` on 2 cores): for the
indexer's sparse pattern (1-fps scan + a few frames per leaf of a 1-hour 640x360 file) PyAV read
the same frames 2.6x faster than decord (18 s vs 48 s); for dense 2-second windows decord was
~15% faster on a 2-minute file but 2x slower on the 1-hour one (its frame index grows with the
file). So :class:`AutoReader` sends dense reads of short files to decord and everything else to
PyAV; callers hold one reader per video and never choose. Frames are downscaled to at most
``width`` pixels wide; decode failures raise :class:`videonav.tools.video.probe.VideoDecodeError`.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from videonav.tools.config import VideoConfig
from videonav.tools.video.probe import Frames, VideoDecodeError, VideoError, VideoInfo, fix_hint

# A read whose frames are on average closer than this (seconds) and that covers at most
# DENSE_MAX_SPAN seconds is "dense" and goes to decord; anything else is "sparse" (PyAV seeking).
DENSE_MAX_GAP = 0.5
DENSE_MAX_SPAN = 60.0
MAX_BAD_SECONDS = 60.0  # a read gives up after this much video of consecutive undecodable packets
DECORD_MAX_DURATION = 300.0  # dense reads of longer files were faster with PyAV (see above)


def scaled_size(width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """Even-sided size no wider than ``max_width``, aspect kept.

    >>> scaled_size(1920, 1080, 640), scaled_size(320, 240, 640), scaled_size(641, 361, 320)
    ((640, 360), (320, 240), (320, 180))
    """
    if not max_width or width <= max_width:
        return width - width % 2, height - height % 2
    h = int(round(height * max_width / width))
    return max_width - max_width % 2, max(2, h - h % 2)


class VideoReader(Protocol):
    """Frames at requested times; one instance per video, not thread-safe."""

    name: str
    info: VideoInfo

    @property
    def frames_decoded(self) -> int: ...

    @property
    def decode_seconds(self) -> float: ...

    def read(self, timestamps: Sequence[float], width: int | None = None) -> Frames:
        """One frame per requested time (same order): the frame nearest to it, at most ``width`` wide."""
        ...

    def close(self) -> None: ...


class PyAVReader:
    """Forward decoding with keyframe seeks when the next target is further than about a GOP away."""

    name = "pyav"

    def __init__(self, info: VideoInfo, threads: int = 0, fast: bool = False) -> None:
        """``fast`` skips H.264/HEVC deblocking (~40% less decode time measured here): fine for the
        scan's tiny thumbnails, not for frames that are OCR'd or shown to a VLM."""
        import av

        self.info = info
        self.frames_decoded = 0
        self.decode_seconds = 0.0
        try:
            self._c = av.open(info.path)
        except av.FFmpegError as e:
            raise VideoDecodeError(f"{info.path}: cannot be opened ({e})") from None
        self._v = self._c.streams.video[0]
        self._v.thread_type = "AUTO"
        if threads:
            self._v.thread_count = threads
        if fast:
            self._v.codec_context.options = {"skip_loop_filter": "all"}
        self._it: Any = None
        self._keys: list[float] | None = None
        self.damaged_packets = 0
        self._last: Any = None  # last decoded av.VideoFrame
        self._gop = 2.0  # seconds; refined from observed keyframes
        self._key_times: list[float] = []

    def _next(self) -> Any:
        import av

        errors = 0
        while True:  # a damaged packet is skipped (as ffmpeg does); only a run of them is fatal
            if self._it is None:
                self._it = self._c.decode(self._v)
            try:
                f = next(self._it)
                break
            except StopIteration:
                return None
            except av.FFmpegError as e:
                self._it = None
                self.damaged_packets += 1
                errors += 1
                if errors >= max(100, MAX_BAD_SECONDS * self.info.fps):
                    where = self._time(self._last)
                    raise VideoDecodeError(f"{self.info.path}: {errors} undecodable packets in a row near "
                                           f"{where:.1f} s ({e}); the file is damaged, "
                                           f"{fix_hint(Path(self.info.path))}") from None
        self.frames_decoded += 1
        if f.key_frame and f.time is not None:
            self._key_times.append(float(f.time))
            if len(self._key_times) >= 3:
                gaps = np.diff(self._key_times[-8:])
                self._gop = float(max(1.0, np.median(gaps)))
        return f

    def _keyframes(self) -> list[float]:
        """Keyframe times from the packet index (a demux pass without decoding: ~0.3 s an hour)."""
        if self._keys is None:
            import av

            keys: list[float] = []
            try:
                with av.open(self.info.path) as c:
                    for p in c.demux(c.streams.video[0]):
                        if p.is_keyframe and p.pts is not None and p.time_base is not None:
                            keys.append(float(p.pts * p.time_base))
            except av.FFmpegError:
                keys = []
            self._keys = sorted(keys)
        return self._keys

    @staticmethod
    def _time(f: Any) -> float:
        return float(f.time) if f is not None and f.time is not None else -1.0

    def _seek(self, t: float) -> None:
        self._c.seek(max(0, int(t / float(self._v.time_base or 1e-3))), stream=self._v, backward=True)
        self._it = None
        self._last = None

    def _frame_at(self, t: float) -> Any:
        half = 0.5 / max(self.info.fps, 1e-3)
        last_t = self._time(self._last)
        if self._last is not None and abs(last_t - t) <= half:
            return self._last
        if self._last is None or t < last_t:
            self._seek(t)
        elif t - last_t > 1.0:  # jump only when a keyframe lies between: decode from it, not from here
            keys = self._keyframes()
            i = bisect.bisect_right(keys, t + 1e-6) - 1
            if (keys and i >= 0 and keys[i] > last_t + half) or (not keys and t - last_t > self._gop):
                self._seek(t)
        while True:
            f = self._next()
            if f is None:  # past the end: the last frame is the nearest
                if self._last is None:
                    self._seek(max(0.0, self.info.duration - 2.0))
                    while (f := self._next()) is not None:
                        self._last = f
                    if self._last is None:
                        raise VideoDecodeError(f"{self.info.path}: no frame decodable near {t:.1f} s")
                return self._last
            self._last = f
            if self._time(f) >= t - half - 1e-6:  # nearest frame; ties go to the earlier one
                return f

    def read(self, timestamps: Sequence[float], width: int | None = None) -> Frames:
        t0 = time.perf_counter()
        w, h = scaled_size(self.info.width, self.info.height, width)
        order = sorted(range(len(timestamps)), key=lambda i: timestamps[i])
        images: list[np.ndarray | None] = [None] * len(timestamps)
        times = [0.0] * len(timestamps)
        for i in order:
            t = min(max(0.0, float(timestamps[i])), self.info.duration)
            f = self._frame_at(t)
            images[i] = f.to_ndarray(format="rgb24", width=w, height=h)
            times[i] = self._time(f)
        self.decode_seconds += time.perf_counter() - t0
        return Frames([im for im in images if im is not None], times)

    def close(self) -> None:
        self._c.close()


class DecordReader:
    """decord's frame-index access; one decord instance per output size (it resizes while decoding)."""

    name = "decord"

    def __init__(self, info: VideoInfo, threads: int = 0) -> None:
        try:
            import decord  # noqa: F401
        except ImportError:
            raise VideoError("decord is not installed: `pip install decord`, "
                             "or set video.reader='pyav'") from None
        self.info = info
        self.threads = threads
        self.frames_decoded = 0
        self.decode_seconds = 0.0
        self._vr: dict[tuple[int, int], Any] = {}

    def _reader(self, w: int, h: int) -> Any:
        import decord

        if (w, h) not in self._vr:
            try:
                self._vr[(w, h)] = decord.VideoReader(self.info.path, ctx=decord.cpu(0), width=w, height=h,
                                                      num_threads=self.threads)
            except decord.DECORDError as e:
                raise VideoDecodeError(f"{self.info.path}: decord cannot read it ({e})") from None
        return self._vr[(w, h)]

    def read(self, timestamps: Sequence[float], width: int | None = None) -> Frames:
        t0 = time.perf_counter()
        w, h = scaled_size(self.info.width, self.info.height, width)
        vr = self._reader(w, h)
        n = len(vr)
        # nearest frame index; ties go to the earlier frame, as in PyAVReader
        idx = [min(n - 1, max(0, math.ceil(float(t) * self.info.fps - 0.5 - 1e-6))) for t in timestamps]
        if not idx:
            return Frames()
        batch = vr.get_batch(idx).asnumpy()
        ts = vr.get_frame_timestamp(idx)[:, 0]
        self.frames_decoded += len(set(idx))
        self.decode_seconds += time.perf_counter() - t0
        return Frames([np.ascontiguousarray(b) for b in batch], [float(x) for x in ts])

    def close(self) -> None:
        self._vr.clear()


def is_dense(timestamps: Sequence[float]) -> bool:
    """Whether a read suits decord (many close frames in a short window) rather than PyAV seeking.

    >>> is_dense([0.0, 0.1, 0.2, 0.3]), is_dense([0.0, 30.0, 60.0]), is_dense([t / 10 for t in range(3000)])
    (True, False, False)
    """
    if len(timestamps) < 2:
        return False
    ts = sorted(timestamps)
    span = ts[-1] - ts[0]
    return span <= DENSE_MAX_SPAN and span / (len(ts) - 1) <= DENSE_MAX_GAP


def _has_decord() -> bool:
    """decord is an optional speed-up (no wheels for macOS arm64 / Linux aarch64): PyAV reads everything without it."""
    import importlib.util

    return importlib.util.find_spec("decord") is not None


class AutoReader:
    """Routes each read to decord (dense, short file) or PyAV (the rest); builds each on first use."""

    name = "auto"

    def __init__(self, info: VideoInfo) -> None:
        self.info = info
        self._pyav: PyAVReader | None = None
        self._decord: DecordReader | None = None

    @property
    def frames_decoded(self) -> int:
        return sum(r.frames_decoded for r in (self._pyav, self._decord) if r is not None)

    @property
    def decode_seconds(self) -> float:
        return sum(r.decode_seconds for r in (self._pyav, self._decord) if r is not None)

    def read(self, timestamps: Sequence[float], width: int | None = None) -> Frames:
        if is_dense(timestamps) and self.info.duration <= DECORD_MAX_DURATION and _has_decord():
            if self._decord is None:
                self._decord = DecordReader(self.info)
            return self._decord.read(timestamps, width)
        if self._pyav is None:
            self._pyav = PyAVReader(self.info)
        return self._pyav.read(timestamps, width)

    def close(self) -> None:
        for r in (self._pyav, self._decord):
            if r is not None:
                r.close()


def open_reader(info: VideoInfo, cfg: VideoConfig | None = None) -> VideoReader:
    """The one reader of a video, as configured (``video.reader``: auto | pyav | decord)."""
    kind = (cfg or VideoConfig()).reader
    if kind == "pyav":
        return PyAVReader(info)
    if kind == "decord":
        return DecordReader(info)
    if kind == "auto":
        return AutoReader(info)
    raise VideoError(f"video.reader={kind!r} unknown; use 'auto', 'pyav' or 'decord'")


def uniform_times(start: float, end: float, n: int) -> list[float]:
    """``n`` times at the centres of ``n`` equal parts of [start, end] (never the exact cut edges).

    >>> uniform_times(0, 10, 2), uniform_times(5, 5, 3)
    ([2.5, 7.5], [5.0])
    """
    if n <= 0:
        return []
    if end <= start:
        return [float(start)]
    step = (end - start) / n
    return [start + step * (i + 0.5) for i in range(n)]


def sample_span(reader: VideoReader, start: float, end: float, n: int, width: int | None = None) -> Frames:
    """``n`` uniformly spaced frames of a span; duplicates (span shorter than n frames) are dropped."""
    frames = reader.read(uniform_times(start, end, n), width)
    keep = [i for i, t in enumerate(frames.timestamps) if i == 0 or t != frames.timestamps[i - 1]]
    return Frames([frames.images[i] for i in keep], [frames.timestamps[i] for i in keep])
