"""Sidecar and embedded subtitles, overlap alignment, and typed errors for broken files."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from videonav.memory.tree import TimedText
from videonav.tools.video.probe import SubtitleError, VideoError, probe
from videonav.tools.video.subtitles import (
    CueIndex,
    find_sidecar,
    load_subtitles,
    read_embedded,
    read_subtitle_file,
    transcript,
)


def test_sidecar_srt_is_found_and_cleaned(tiny_video):
    assert find_sidecar(tiny_video.path) == tiny_video.srt
    cues, src = load_subtitles(tiny_video.path)
    assert src == str(tiny_video.srt) and len(cues) == 4
    assert cues[0] == TimedText(start=1.0, end=3.0, text="Welcome to the alpha card.")  # <i> stripped


def test_vtt_and_language_suffix(tmp_path):
    (tmp_path / "talk.mp4").write_bytes(b"")
    vtt = "WEBVTT\n\n00:00:01.500 --> 00:00:02.000\n{\\an8}<b>Hi</b>  there\n"
    (tmp_path / "talk.en.vtt").write_text(vtt)
    side = find_sidecar(tmp_path / "talk.mp4")
    assert side is not None and side.name == "talk.en.vtt"
    assert read_subtitle_file(side) == [TimedText(start=1.5, end=2.0, text="Hi there")]


def test_every_overlapping_cue_is_aligned_not_only_sampled_instants():
    cues = [TimedText(start=0, end=4, text="a"), TimedText(start=3, end=11, text="b"),
            TimedText(start=12, end=13, text="c"), TimedText(start=20, end=21, text="d")]
    ix = CueIndex(cues)
    assert [c.text for c in ix.overlapping(5, 10)] == ["b"]  # b covers the span though no cue starts in it
    assert [c.text for c in ix.overlapping(3.5, 12.5)] == ["a", "b", "c"]
    assert ix.overlapping(13, 20) == []
    assert transcript([cues[0], cues[0], cues[1]]) == "a b"


@pytest.mark.parametrize("content", [
    b"1\n00:00:01,000 --> later\nhello\n\n",
    b"just some words\nwithout timing\n",
    bytes(range(256)) * 20,
])
def test_broken_subtitle_files_raise_subtitle_error_naming_the_file(tmp_path, content):
    p = tmp_path / "broken.srt"
    p.write_bytes(content)
    with pytest.raises(SubtitleError) as ei:
        read_subtitle_file(p)
    assert str(p) in str(ei.value) and isinstance(ei.value, VideoError)


def test_unreadable_and_empty_subtitle_files(tmp_path):
    with pytest.raises(SubtitleError, match="cannot read"):
        read_subtitle_file(tmp_path / "missing.srt")
    (tmp_path / "empty.srt").write_text("")
    assert read_subtitle_file(tmp_path / "empty.srt") == []


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI needed to mux a subtitle stream")
@pytest.mark.parametrize(("suffix", "codec"), [(".mkv", "srt"), (".mp4", "mov_text")])
def test_embedded_subtitle_stream(tmp_path, tiny_video, suffix, codec):
    out = tmp_path / f"muxed{suffix}"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(tiny_video.path),
                    "-i", str(tiny_video.srt),
                    "-c", "copy", "-c:s", codec, str(out)], check=True)
    info = probe(out)
    assert len(info.subtitle_streams) == 1
    cues = read_embedded(out)
    assert [c.text for c in cues][2] == "Charlie says the password is pineapple."
    assert cues[1].start == pytest.approx(6.0) and cues[1].end == pytest.approx(9.5)
    got, src = load_subtitles(out, info)
    assert got == cues and src.endswith("#subtitles")
