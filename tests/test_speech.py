"""Speech recognition: backends through one interface, the chunk cache, bad audio, the CLI and the index.

Real decoders where they are offline and quick (pocketsphinx on espeak-ng clips), a tiny random
Whisper built from a config (its text is noise; what is tested is the path around the weights),
and a local HTTP stub for the OpenAI-compatible endpoint.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

from videonav.agent.cli.dispatch import main as cli
from videonav.memory.store import Store
from videonav.tools.config import AsrConfig
from videonav.tools.speech.audio import iter_chunks, load_audio, speech_segments
from videonav.tools.speech.base import ASR, AsrError, Cue, Echo, transcribe
from videonav.tools.speech.cache import transcribe_file
from videonav.tools.speech.narrate import add_audio
from videonav.tools.video.subtitles import read_subtitle_file

SR = 16000
ESPEAK = shutil.which("espeak-ng") is not None
need_espeak = pytest.mark.skipif(not ESPEAK, reason="espeak-ng not installed (apt-get install espeak-ng)")
pytest.importorskip("pocketsphinx")


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def make_video(path: Path, seconds: float, audio: np.ndarray | None = None) -> Path:
    """A small grey H.264 clip at 2 fps, with ``audio`` as an AAC track when given."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=2)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 2)):
            img = np.full((48, 64, 3), 40 + 10 * (i % 8), np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    if audio is not None:
        add_audio(path, audio)
    return path


class Counting:
    """Echo that counts calls and can fail on a given call (an index killed mid-transcript)."""

    name, model_id = "counting", "v1"

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls, self.fail_on = 0, fail_on

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Cue]:
        self.calls += 1
        if self.fail_on == self.calls:
            raise KeyboardInterrupt
        return Echo().transcribe(audio, sample_rate)


ASR.register("counting-test")(lambda cfg: Counting())


# -- the interface and the VAD --------------------------------------------------------------
def test_transcribe_skips_silence_and_keeps_segment_times() -> None:
    audio = np.concatenate([silence(1), tone(1.5), silence(2), tone(1), silence(1)])
    cues = transcribe(audio, SR, recognizer=Echo())
    assert [(round(c.start, 1), round(c.end, 1)) for c in cues] == [(0.9, 2.6), (4.4, 5.6)]
    assert transcribe(silence(5), SR, recognizer=Counting()) == []
    assert transcribe(np.zeros(0, np.float32), SR, recognizer=Echo()) == []
    # 8 kHz input is resampled: the same times come back
    cues8 = transcribe(audio[::2].copy(), 8000, recognizer=Echo())
    assert [round(c.start, 1) for c in cues8] == [0.9, 4.4]


def test_long_speech_is_split_under_max_seconds() -> None:
    segs = speech_segments(np.concatenate([tone(70), silence(1)]), SR, max_seconds=30)
    assert len(segs) >= 3 and all(b - a <= 30.3 for a, b in segs)
    assert segs[0][0] == 0.0 and abs(segs[-1][1] - 70.1) < 0.2


def test_unknown_backend_names_the_setting() -> None:
    with pytest.raises(Exception, match="asr.backend='nope' unknown"):
        transcribe(tone(1), SR, AsrConfig(backend="nope"))
    assert transcribe(tone(1), SR, AsrConfig(backend="none")) == []


# -- pocketsphinx on real (synthetic) speech ------------------------------------------------
@need_espeak
def test_pocketsphinx_end_to_end_on_espeak_clip() -> None:
    from videonav.tools.speech.narrate import synthesize
    from videonav.tools.speech.spot import Spotter, best_option, option_scores

    speech = synthesize("Remember the secret word: beacon.")
    audio = np.concatenate([silence(1.0), speech, silence(1.5)])
    cues = transcribe(audio, SR, AsrConfig(backend="pocketsphinx"))
    assert cues and all(c.text and c.text == c.text.strip() for c in cues)
    assert cues[0].start >= 0.7 and cues[-1].end <= 1.0 + len(speech) / SR + 0.3
    assert "<s>" not in " ".join(c.text for c in cues)
    spotter = Spotter()
    phones = spotter.phones(audio)
    assert phones and all(p.isupper() and p != "SIL" for seg in phones for p in seg)
    assert spotter.phones(silence(2)) == []
    scores = option_scores(phones, ["beacon", "zzzq", "the"])
    assert 0 < scores[0] <= 1 and scores[1] == 0.0  # an unknown word cannot be spotted
    assert best_option(option_scores([["B", "IY", "K", "AH", "N"]], ["cactus", "beacon"])) == 1


# -- tiny Whisper through the same path -----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    from tiny_vlms import tiny_tokenizer

    out = tmp_path_factory.mktemp("whisper")
    tok = tiny_tokenizer(["<|startoftranscript|>", "<|endoftext|>"])
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, d_model=16, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=16,
                        decoder_start_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                        begin_suppress_tokens=None, suppress_tokens=None)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(cfg)
    model.generation_config.min_new_tokens = 2  # random weights must still say something
    model.save_pretrained(out)
    tok.save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out)
    return out


def test_tiny_whisper_gives_cues_per_segment(tiny_whisper: Path) -> None:
    audio = np.concatenate([silence(1), tone(1), silence(1), tone(2, 330), silence(0.5)])
    cues = transcribe(audio, SR, AsrConfig(backend="whisper", model=str(tiny_whisper)))
    assert [(round(c.start, 1), round(c.end, 1)) for c in cues] == [(0.9, 2.1), (2.9, 5.1)]
    assert all(c.text for c in cues)


def test_whisper_without_weights_names_asr_model(tmp_path: Path) -> None:
    with pytest.raises(AsrError, match="needs asr.model"):
        transcribe(tone(1), SR, AsrConfig(backend="whisper"))
    with pytest.raises(AsrError, match=r"asr.model='.*nowhere'"):
        transcribe(tone(1), SR, AsrConfig(backend="whisper", model=str(tmp_path / "nowhere")))


def test_faster_whisper_missing_is_one_clear_line() -> None:
    import importlib.util

    if importlib.util.find_spec("faster_whisper") is not None:
        pytest.skip("faster-whisper installed")
    with pytest.raises(AsrError, match="pip install faster-whisper"):
        transcribe(tone(1), SR, AsrConfig(backend="faster-whisper", model="x"))


# -- OpenAI-compatible endpoint ---------------------------------------------------------------
class _Stub(BaseHTTPRequestHandler):
    seen: list[bytes] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Stub.seen.append(body)
        if self.path != "/v1/audio/transcriptions" or _Stub.status != 200:
            data = json.dumps({"error": {"message": "model not found"}}).encode()
            self.send_response(404 if _Stub.status == 200 else _Stub.status)
        else:
            data = json.dumps({"text": "hello there. general", "segments": [
                {"start": 0.8, "end": 2.2, "text": " hello there."}, {"start": 3.0, "end": 4.1, "text": "general"}]
            }).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture()
def stub() -> str:
    srv = HTTPServer(("127.0.0.1", 0), _Stub)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    _Stub.seen, _Stub.status = [], 200
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_openai_backend_against_stub(stub: str, tmp_path: Path) -> None:
    audio = np.concatenate([silence(1), tone(1), silence(1), tone(1), silence(1)])
    cues = transcribe(audio, SR, AsrConfig(backend="openai", base_url=stub, model="whisper-x", language="en"))
    assert cues == [Cue(0.8, 2.2, "hello there."), Cue(3.0, 4.1, "general")]
    body = _Stub.seen[0]
    assert b'name="model"\r\n\r\nwhisper-x' in body and b"RIFF" in body and b'name="language"\r\n\r\nen' in body
    assert transcribe(silence(3), SR, AsrConfig(backend="openai", base_url=stub)) == []
    assert len(_Stub.seen) == 1  # silence never reaches the server
    _Stub.status = 400
    with pytest.raises(AsrError, match="HTTP 400: model not found"):
        transcribe(audio, SR, AsrConfig(backend="openai", base_url=stub))
    with pytest.raises(AsrError, match="needs asr.base_url"):
        transcribe(audio, SR, AsrConfig(backend="openai"))


# -- files: bad audio, cache, interruption -------------------------------------------------------
def test_bad_audio_gives_notes_not_crashes(tmp_path: Path) -> None:
    cfg = AsrConfig(backend="counting-test")
    cues, note = transcribe_file(make_video(tmp_path / "mute.mp4", 3), cfg)
    assert cues == [] and "no audio stream" in note
    cues, note = transcribe_file(make_video(tmp_path / "silent.mp4", 3, silence(3)), cfg)
    assert cues == [] and "no speech found" in note
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    cues, note = transcribe_file(junk, cfg)
    assert cues == [] and "cannot open the audio track" in note
    good = make_video(tmp_path / "good.mp4", 6, np.concatenate([silence(1), tone(4), silence(1)]))
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 4000] = b"\xff" * 4000  # damage the middle of the file
    (tmp_path / "broken.mp4").write_bytes(bytes(raw))
    cues, note = transcribe_file(tmp_path / "broken.mp4", cfg)  # whatever decodes, no exception
    assert isinstance(cues, list)


def test_cues_are_cached_per_chunk_and_survive_an_interrupt(tmp_path: Path) -> None:
    audio = np.concatenate([np.concatenate([silence(2), tone(3)]) for _ in range(8)])  # 40 s
    video = make_video(tmp_path / "talk.mp4", 40, audio)
    assert len(list(iter_chunks(video, 10))) >= 3
    cfg = AsrConfig(backend="counting-test", chunk_seconds=10)
    with Store(tmp_path / "s.sqlite") as store:
        killed = Counting(fail_on=3)
        with pytest.raises(KeyboardInterrupt):
            transcribe_file(video, cfg, store=store, recognizer=killed)
        again = Counting()
        cues, note = transcribe_file(video, cfg, store=store, recognizer=again)
        n_chunks = len(list(iter_chunks(video, 10)))
        assert again.calls == n_chunks - 2 and note == ""  # the two stored chunks were not redone
        assert len(cues) == 8 and abs(cues[0].start - 1.9) < 0.1 and abs(cues[-1].end - 40.1) < 0.2
        third = Counting()
        assert transcribe_file(video, cfg, store=store, recognizer=third)[0] == cues and third.calls == 0
        other = Counting()
        other.model_id = "v2"  # another model: its own cache rows
        transcribe_file(video, cfg, store=store, recognizer=other)
        assert other.calls == n_chunks


# -- CLI ---------------------------------------------------------------------------------
def test_transcribe_cli_writes_valid_srt_and_vtt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio = np.concatenate([silence(1), tone(2), silence(1), tone(1), silence(1)])
    video = make_video(tmp_path / "v.mp4", 6, audio)
    store = str(tmp_path / "s.sqlite")
    for suffix in (".srt", ".vtt"):
        out = tmp_path / f"out{suffix}"
        rc = cli(["transcribe", str(video), "-o", str(out), "--store", store, "--set", "asr.backend=counting-test"])
        assert rc == 0, capsys.readouterr().err
        cues = read_subtitle_file(out)
        assert [c.text for c in cues] == ["speech 2.2 s", "speech 1.2 s"]
        assert abs(cues[0].start - 0.89) < 0.02 and abs(cues[1].end - 5.11) < 0.02
    assert out.read_text().startswith("WEBVTT")
    assert cli(["transcribe", str(video), "-o", str(tmp_path / "x.txt"), "--store", store]) == 2
    assert ".srt or .vtt" in capsys.readouterr().err
    assert cli(["transcribe", str(video), "--asr", "none", "--store", store]) == 1
    assert cli(["transcribe", str(tmp_path / "missing.mp4"), "--store", store]) == 1
    assert "no such file" in capsys.readouterr().err


# -- the index ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ESPEAK:
        pytest.skip("espeak-ng not installed")
    from videonav.tools.video.sample_video import main as generate

    out = tmp_path_factory.mktemp("narrated")
    assert generate(["--minutes", "1", "--seed", "201", "--out", str(out), "--narrate", "--no-srt"]) == 0
    assert not (out / "sample_1min.srt").exists()
    return out / "sample_1min.mp4"


def test_index_of_narrated_video_gives_speech_cues_fast(narrated: Path, tmp_path: Path) -> None:
    """The same path with a model-free recognizer: every narrated leaf gets a transcript and 'Speech:'."""
    from videonav.tools.video.index import index_video

    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(narrated, store=store, asr=AsrConfig(backend="counting-test"), lazy=False)
    assert res.tree.meta["subtitles"] == "speech:counting:v1"
    spoken = [lf for lf in res.tree.leaves() if lf.transcript]
    assert spoken and all("Speech:" in (lf.caption or "") and "speech " in lf.transcript for lf in spoken)


@pytest.mark.slow
def test_index_of_narrated_video_without_subtitles_has_speech_leaves(narrated: Path, tmp_path: Path) -> None:
    from videonav.tools.video.index import index_video

    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(narrated, store=store, asr=AsrConfig(backend="pocketsphinx"), lazy=False)
        leaves = res.tree.leaves()
        assert res.tree.meta["subtitles"] == "speech:pocketsphinx:en-us"
        spoken = [lf for lf in leaves if lf.transcript]
        assert len(spoken) >= len(leaves) // 2
        assert any("Speech:" in (lf.caption or "") for lf in spoken)
        rows = store._db.execute("SELECT COUNT(*) FROM asr_chunks").fetchone()[0]
        assert rows >= 2  # chunk(s) + the finished mark
        again = index_video(narrated, store=store, asr=AsrConfig(backend="pocketsphinx"))
        assert again.tree_key == res.tree_key and again.stats.resumed  # cached transcript, same tree
        none = index_video(narrated, store=store, asr=AsrConfig(backend="none"))
        assert none.tree_key != res.tree_key and not any(lf.transcript for lf in none.tree.leaves())


def test_index_keeps_going_when_audio_is_broken(tmp_path: Path) -> None:
    from videonav.tools.video.index import index_video

    video = make_video(tmp_path / "mute.mp4", 4)
    with Store(tmp_path / "s.sqlite") as store:
        res = index_video(video, store=store, asr=AsrConfig(backend="counting-test"), lazy=False)
    assert res.tree.leaves() and not any(lf.transcript for lf in res.tree.leaves())


def test_sample_generator_defaults_unchanged(tmp_path: Path) -> None:
    """Without --narrate the generator writes what it wrote before: an .srt and a video-only mp4."""
    import av

    from videonav.tools.video.sample_video import main as generate

    assert generate(["--minutes", "0.5", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "sample_0.5min.srt").read_text().startswith("1\n")
    with av.open(str(tmp_path / "sample_0.5min.mp4")) as c:
        assert [s.type for s in c.streams] == ["video"]
    assert load_audio(make_video(tmp_path / "x.mp4", 2, tone(2))).size > 1.9 * SR


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 40])
def test_transcribe_of_a_non_media_file_is_one_error_line_and_writes_nothing(tmp_path: Path, content: bytes,
                                                                               capsys: pytest.CaptureFixture) -> None:
    from videonav.agent.cli import main

    bad = tmp_path / "notes.txt"
    bad.write_bytes(content)
    rc = main(["transcribe", str(bad), "--store", str(tmp_path / "s.sqlite")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "Errno" not in err[0], err
    assert "cannot open the audio track" in err[0] or "no audio stream" in err[0]
    assert not (tmp_path / "notes.srt").exists() and not (tmp_path / "s.sqlite").exists()
