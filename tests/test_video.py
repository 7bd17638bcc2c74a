"""Probe errors are typed and actionable; both decoders return the same frames at exact times."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from videonav.agent.errors import is_user_error
from videonav.tools.config import VideoConfig
from videonav.tools.video.probe import NoVideoStream, VideoDecodeError, VideoError, VideoNotFound, probe
from videonav.tools.video.readers import AutoReader, DecordReader, PyAVReader, is_dense, open_reader, sample_span


def test_probe_reads_duration_fps_size(tiny_video):
    info = probe(tiny_video.path)
    assert info.duration == pytest.approx(20.0, abs=0.3)
    assert info.fps == pytest.approx(5.0)
    assert (info.width, info.height) == (640, 360)
    assert info.codec == "h264" and not info.has_audio and info.subtitle_streams == ()


def bad_files(tmp: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    files = {"empty": tmp / "empty.mp4", "truncated": tmp / "truncated.mp4", "corrupt": tmp / "corrupt.mp4",
             "audio": tmp / "tone.wav"}
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["corrupt"].write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with wave.open(str(files["audio"]), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, dtype=np.int16).tobytes())
    return files


@pytest.mark.parametrize(("kind", "error", "words"), [
    ("empty", VideoDecodeError, "empty"),
    ("truncated", VideoDecodeError, "truncated"),
    ("corrupt", VideoDecodeError, "corrupt"),
    ("audio", NoVideoStream, "no video stream"),
])
def test_bad_files_raise_typed_errors(tmp_path, tiny_video, kind, error, words):
    path = bad_files(tmp_path, tiny_video.path)[kind]
    with pytest.raises(error) as ei:
        probe(path)
    msg = str(ei.value)
    assert str(path) in msg and words in msg
    assert isinstance(ei.value, VideoError) and is_user_error(ei.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(VideoNotFound, match="no such file"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoNotFound, match="not a file"):
        probe(tmp_path)


def test_truncated_matroska_with_intact_header(tmp_path, tiny_video):
    """A file whose header survives but whose tail is gone: the end-of-file spot check catches it, and
    what decodes is kept (as ffmpeg plays it) with a warning saying what was cut (issue 13)."""
    import av

    mkv = tmp_path / "full.mkv"
    with av.open(str(tiny_video.path)) as src, av.open(str(mkv), "w") as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        for pkt in src.demux(s_in):
            if pkt.dts is not None:
                pkt.stream = s_out
                dst.mux(pkt)
    assert probe(mkv).duration == pytest.approx(20.0, abs=0.5)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 3])
    from videonav.tools.video.probe import TruncatedVideo

    with pytest.warns(TruncatedVideo, match="only the first"):
        info = probe(cut)
    assert info.truncated_from == pytest.approx(20.0, abs=0.5) and 1.0 < info.duration < 10.0
    tiny = tmp_path / "tiny.mkv"
    tiny.write_bytes(mkv.read_bytes()[:2000])  # nothing decodable left: still refused
    with pytest.raises(VideoDecodeError):
        probe(tiny)


def test_pyav_and_decord_agree_on_frames_and_times(tiny_video):
    info = probe(tiny_video.path)
    times = [0.0, 2.4, 7.5, 12.6, 19.9]
    a = PyAVReader(info).read(times, 320)
    b = DecordReader(info).read(times, 320)
    assert a.images[0].shape == (180, 320, 3) and a.images[0].dtype == np.uint8
    assert a.timestamps == pytest.approx(b.timestamps, abs=1e-3)
    for t, got in zip(times, a.timestamps, strict=True):
        assert abs(got - t) <= 0.5 / info.fps + 1e-6  # nearest frame
        assert got * info.fps == pytest.approx(round(got * info.fps), abs=1e-3)  # an exact frame time
    for x, y in zip(a.images, b.images, strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).mean() < 8


def test_pyav_keeps_request_order_and_colours(tiny_video):
    info = probe(tiny_video.path)
    r = PyAVReader(info)
    fr = r.read([17.5, 2.5, 12.5, 7.5], 64)  # out of order on purpose: sorted internally, returned as asked
    means = [im.reshape(-1, 3).mean(0) for im in fr.images]
    assert np.argmax(means[1]) == 0 and np.argmax(means[0]) in (0, 1)  # red card; yellow = red + green
    assert np.argmax(means[3]) == 2 and np.argmax(means[2]) == 1  # blue, green
    assert r.frames_decoded > 0 and r.decode_seconds > 0


def test_auto_reader_routes_by_density(tiny_video):
    info = probe(tiny_video.path)
    assert is_dense([1.0, 1.2, 1.4]) and not is_dense([0.0, 10.0])
    r = open_reader(info, VideoConfig())
    assert isinstance(r, AutoReader)
    r.read([0.0, 10.0, 19.0], 64)
    assert r._pyav is not None and r._decord is None
    r.read([5.0, 5.2, 5.4, 5.6], 64)
    assert r._decord is not None and r.frames_decoded > 0
    r.close()


def test_sample_span_uniform_inside_span(tiny_video):
    r = open_reader(probe(tiny_video.path), VideoConfig(reader="pyav"))
    fr = sample_span(r, 5.0, 10.0, 4, 128)
    assert len(fr) == 4 and fr.timestamps == sorted(fr.timestamps)
    assert all(5.0 <= t < 10.0 for t in fr.timestamps)


def test_unknown_reader_is_a_clear_error(tiny_video):
    with pytest.raises(VideoError, match="video.reader"):
        open_reader(probe(tiny_video.path), VideoConfig(reader="opencv"))


def test_shared_clips_probe_and_read(shared_clips):
    for p in sorted(shared_clips.iterdir())[:4]:
        info = probe(p)
        assert info.duration > 0 and info.width > 0
        fr = open_reader(info).read([0.0, info.duration / 2], 160)
        assert len(fr) == 2 and fr.images[0].shape[1] <= 160


def test_damaged_packets_are_skipped_not_fatal(tmp_path, tiny_video):
    """Garbage in the middle of the stream: reads go on with the next decodable frame."""
    data = bytearray(tiny_video.path.read_bytes())
    lo, hi = int(len(data) * 0.4), int(len(data) * 0.55)
    for i in range(lo, hi, 7):
        data[i] = 0x55
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    info = probe(bad)
    r = PyAVReader(info)
    fr = r.read([t * 0.5 for t in range(40)], 64)
    assert len(fr) == 40 and fr.timestamps == sorted(fr.timestamps)
    assert fr.timestamps[-1] > 19.0
