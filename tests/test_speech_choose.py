"""Spoken options: closed-vocabulary decoding of a question's options in narrated audio (tools/speech/choose.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from videonav.tools.speech.choose import OptionSpotter, asks_about_speech, cue_words, focus_parts, spoken_reads, windows

pytest.importorskip("pocketsphinx")
SR = 16000
need_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                 reason="espeak-ng not installed (apt-get install espeak-ng)")
OPTIONS = ["violin", "lantern", "copper", "meadow", "tulip"]
QUESTION = "What secret word did the narrator say during the chapter on Deserts?"


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def tone(seconds: float) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def narration(word: str) -> tuple[np.ndarray, float]:
    """Three narrated sentences like the generator's; (audio, second the secret-word sentence starts)."""
    from videonav.tools.speech.narrate import synthesize

    parts = [silence(0.5), synthesize("Here is part of our look at deserts."), silence(2.5)]
    at = sum(len(p) for p in parts) / SR
    parts += [synthesize(f"Remember the secret word: {word}."), silence(2.5),
              synthesize("Our reporter is speaking from Oslo today."), silence(0.5)]
    return np.concatenate(parts), at


def test_cue_words_are_what_the_question_quotes() -> None:
    assert cue_words(QUESTION, OPTIONS) == ["secret", "word"]
    assert cue_words("Which city did the reporter name?") == ["city"]
    assert cue_words("Why did the man laugh?") == [] and cue_words("What is it") == []
    assert cue_words("What lantern word did he say?", ["lantern"]) == ["word"]  # an option is no cue
    assert asks_about_speech(QUESTION) and not asks_about_speech("What number was shown on the red slide?")


def test_focus_is_the_part_most_visited_reads_lie_in() -> None:
    from textfix import small_tree

    tree = small_tree()  # parts 1 = 0-30 s, 2 = 30-60 s
    assert focus_parts(tree, [(31.0, 35.0), (50.0, 52.0), (2.0, 4.0)]) == [(30.0, 60.0)]
    assert focus_parts(tree, [(1.0, 2.0), (40.0, 41.0)]) == [(0.0, 30.0), (30.0, 60.0)]  # a tie: both
    assert focus_parts(tree, []) == [] and focus_parts(None, [(1.0, 2.0)]) == [(1.0, 2.0)]
    # a part the question names wins over where the reads were
    assert focus_parts(tree, [(1.0, 2.0)], "What was said while the men play guitar?") == [(30.0, 60.0)]
    assert focus_parts(tree, [(1.0, 2.0)], "What was said in the video?") == [(0.0, 30.0)]


def test_windows_join_a_segment_with_the_next_across_a_short_pause() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(0.6), tone(0.8), silence(3.0), tone(1.0), silence(0.5)])
    w = windows(audio)
    assert len(w) == 3
    assert w[0][0] == pytest.approx(0.5, abs=0.2) and w[0][1] == pytest.approx(2.9, abs=0.2)  # joined pair
    assert w[2][0] == pytest.approx(5.9, abs=0.2)  # the last one stands alone


@need_espeak
@pytest.mark.parametrize("word", ["lantern", pytest.param("copper", marks=pytest.mark.slow)])
def test_the_said_option_is_chosen_where_the_cue_is_said(word: str) -> None:
    audio, at = narration(word)
    got = OptionSpotter().choose(audio, OPTIONS, cue_words(QUESTION, OPTIONS), offset=100.0)
    assert got is not None and got.option == word and got.index == OPTIONS.index(word)
    assert abs(got.start - (100.0 + at)) < 0.5  # the secret-word sentence, not the others
    assert got.margin > 0 and max(got.scores) == got.scores[got.index] and got.cued
    assert word in got.heard and got.text().startswith('Speech (spotted): "') and "100." not in got.heard


@need_espeak
@pytest.mark.slow
def test_options_without_the_cue_sentence_are_not_evidence() -> None:
    """Without "secret word" in the audio the grammar still forces a pick; the score says it is a guess."""
    from videonav.tools.speech.narrate import synthesize

    audio = np.concatenate([silence(0.5), synthesize("Here is part of our look at deserts."), silence(2.5),
                            synthesize("Our reporter is speaking from Oslo today."), silence(0.5)])
    got = OptionSpotter().choose(audio, OPTIONS, ["secret", "word"])
    assert got is None or not got.cued


def test_nothing_to_choose_gives_none() -> None:
    sp = OptionSpotter()
    assert sp.choose(silence(3), OPTIONS) is None
    assert sp.choose(tone(1.0), ["zzqx", "qqzv"]) is None  # no option is a dictionary word
    with pytest.raises(ValueError, match="16000 Hz"):
        sp.choose(tone(1.0), OPTIONS, sample_rate=8000)


@pytest.fixture(scope="module")
def narrated_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    import av

    from videonav.tools.speech.narrate import add_audio

    audio, at = narration("meadow")
    path = tmp_path_factory.mktemp("spoken") / "clip.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=2)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(int(len(audio) / SR * 2) + 1):
            for p in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    add_audio(path, audio)
    return path, at


def _source(path: Path, label: str, has_audio: bool = True) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(path=str(path), has_audio=has_audio),
                           tree=SimpleNamespace(meta={"subtitles": label}))


@pytest.mark.slow
def test_spoken_reads_only_for_speech_questions_on_videos_without_subtitles(narrated_clip: tuple[Path, float]) -> None:
    path, at = narrated_clip
    span = [(0.0, 30.0)]
    reads = spoken_reads(_source(path, "speech:pocketsphinx:en-us"), QUESTION, OPTIONS, span)
    assert len(reads) == 1
    a, b, text = reads[0]
    assert abs(a - at) < 0.5 and b > a and '"secret word meadow"' in text
    assert spoken_reads(_source(path, str(path.with_suffix(".srt"))), QUESTION, OPTIONS, span) == []  # subtitles
    assert spoken_reads(_source(path, ""), QUESTION, ["zzqx", "qqzv"], span) == []  # nothing decodable
    assert spoken_reads(_source(path, ""), "What number was shown on the red slide?", OPTIONS, span) == []
    assert spoken_reads(_source(path, "", has_audio=False), QUESTION, OPTIONS, span) == []
    assert spoken_reads(SimpleNamespace(tree=SimpleNamespace(meta={})), QUESTION, OPTIONS, span) == []  # text tree
    assert spoken_reads(_source(path, ""), QUESTION, OPTIONS, []) == []  # nothing visited


def test_spoken_reads_of_unreadable_audio_is_empty(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 2000)
    assert spoken_reads(_source(bad, ""), QUESTION, OPTIONS, [(0.0, 5.0)]) == []
