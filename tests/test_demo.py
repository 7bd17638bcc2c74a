"""The demo's handlers without a browser: index, ask, timeline, chapters, upload safety.

Fast settings where they do not weaken the assertion: ``planner.backend=none`` (no LLM load),
the hashing embedder (no MiniLM load) and no OCR (captions from subtitles + scene statistics):
the tests check what the page shows and what the upload gate lets through, not answer quality.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videonav.agent.config import load_config
from videonav.agent.demo.app import (
    DemoError,
    DemoService,
    DemoSettings,
    Indexed,
    container_ext,
    parse_options,
)
from videonav.agent.demo.timeline import timeline_html
from videonav.agent.result import Span

gr = pytest.importorskip("gradio")

from videonav.agent.demo import player as demo_player  # noqa: E402
from videonav.agent.demo import ui as demo_ui  # noqa: E402
from videonav.agent.demo.player import evidence_rows  # noqa: E402

QUESTION = "What is the password Charlie says?"
OPTIONS = ["apple", "pineapple", "banana", "cherry"]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> DemoService:
    d = tmp_path_factory.mktemp("demo_store")
    cfg = load_config(None, ["planner.backend=none", "embedder.model=hashing", "captioner.ocr=false",
                             f"store.path={d / 'store.sqlite'}"])
    s = DemoService(cfg, DemoSettings(max_upload_mb=1.0))
    yield s
    s.close()


@pytest.fixture(scope="module")
def indexed(svc: DemoService, tiny_video) -> Indexed:
    seen: list[tuple[float, str]] = []
    stored = svc.store_upload(tiny_video.path)
    state, stats = svc.index(stored, "cards.mp4", lambda f, d: seen.append((f, d)))
    assert stats.nodes >= 3
    assert seen and seen[-1][0] == pytest.approx(1.0)  # progress reached the end
    assert any("caption" in d for _, d in seen)
    return state


def test_upload_stored_under_store_by_content_hash(svc: DemoService, tiny_video) -> None:
    import hashlib

    stored = svc.store_upload(tiny_video.path)
    digest = hashlib.sha256(tiny_video.path.read_bytes()).hexdigest()
    assert stored.parent == svc.root / "uploads"
    assert stored.resolve().is_relative_to(svc.store_path.parent.resolve())
    assert stored.name == f"{digest}.mp4"
    assert stored.read_bytes() == tiny_video.path.read_bytes()
    assert svc.store_upload(tiny_video.path) == stored  # idempotent


def test_upload_name_is_not_user_controlled(svc: DemoService, tiny_video, tmp_path: Path) -> None:
    evil = tmp_path / "..%2F..%2Fevil name.mkv.exe"
    evil.write_bytes(tiny_video.path.read_bytes())
    stored = svc.store_upload(evil)
    assert stored.parent == svc.root / "uploads"
    assert re.fullmatch(r"[0-9a-f]{64}\.mp4", stored.name)  # extension from the probed container


def test_upload_rejects_non_video(svc: DemoService, tmp_path: Path) -> None:
    txt = tmp_path / "notes.mp4"
    txt.write_text("this is not a video\n" * 50)
    with pytest.raises(DemoError, match="not a video"):
        svc.store_upload(txt)
    from PIL import Image

    png = tmp_path / "frame.mp4"  # PyAV opens images too: the container check must refuse them
    Image.new("RGB", (64, 64), (200, 10, 10)).save(png, format="PNG")
    with pytest.raises(DemoError, match="not a video container"):
        container_ext(png)
    assert not any((svc.root / "uploads").glob("*.part*"))


def test_upload_rejects_oversized(svc: DemoService, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (int(1.5 * 2**20)))
    with pytest.raises(DemoError, match=r"over the demo's limit of 1 MB"):
        svc.store_upload(big)


def test_upload_errors_reach_the_status_box_without_traceback(svc: DemoService, tmp_path: Path) -> None:
    txt = tmp_path / "x.mp4"
    txt.write_text("nope")
    out = demo_ui.on_index(svc, "upload", str(txt))
    status = out[1]
    assert "not a video" in status and "Traceback" not in status and str(tmp_path) not in status
    assert "choose a video" in demo_ui.on_index(svc, "upload", None)[1]


def test_index_then_timeline_has_every_level(svc: DemoService, indexed: Indexed) -> None:
    tree = svc.tree(indexed)
    html = timeline_html(tree)
    for level in range(tree.depth + 1):
        n = len(tree.level(level))
        assert len(re.findall(rf'class="vn-bar vn-level-{level}[ "]', html)) == n > 0
    assert "vn-evidence" not in html and "vn-visited" not in html


def test_index_callback_fills_state_status_and_timeline(svc: DemoService, tiny_video) -> None:
    state, status, timeline, dd = demo_ui.on_index(svc, "upload", str(tiny_video.path))
    assert isinstance(state, Indexed) and "Indexed" in status and "vn-level-0" in timeline


def test_ask_fills_answer_trace_cost_and_highlights(svc: DemoService, indexed: Indexed) -> None:
    res = svc.ask(indexed, QUESTION, OPTIONS, "guided")
    assert res.answer in OPTIONS and res.option_index is not None
    assert res.trace and res.cost.rounds >= 1 and res.cost.captions_read >= 1
    assert res.evidence and res.visited
    seen: list[str] = []
    out = demo_ui.on_ask(svc, indexed, QUESTION, "\n".join(OPTIONS), "guided",
                         lambda frac, desc: seen.append(desc))
    status, answer, path, timeline, trace, cost, ev_rows, ev_spans = out
    assert res.answer in answer and answer.count("Confidence") == 1  # shown once, no second widget
    assert seen and any("answering" in d for d in seen)  # progress while it works
    assert ev_rows and len(ev_rows) == len(ev_spans) and all(len(r) == 4 for r in ev_rows)
    assert len(set(ev_spans)) == len(ev_spans)
    assert path.startswith("**Path:**") and "→" in path or len(res.trace) == 1
    assert trace and len(trace[0]) == len(demo_ui.TRACE_HEADERS)
    assert "rounds" in cost and "captions read" in cost
    cited = {e.node_id for e in res.evidence if e.node_id}
    for nid in cited:  # every cited node is drawn as evidence
        assert re.search(rf'class="vn-bar[^"]*vn-evidence[^"]*" data-node="{re.escape(nid)}"', timeline)
    assert "vn-visited" in timeline and 'class="vn-cite' in timeline


def test_ask_rejects_bad_input_in_the_page(svc: DemoService, indexed: Indexed) -> None:
    assert "type a question" in demo_ui.on_ask(svc, indexed, "   ", "", "guided")[0]
    assert "index a video first" in demo_ui.on_ask(svc, None, "why?", "", "guided")[0]
    assert "2 to" in demo_ui.on_ask(svc, indexed, "why?", "only one", "guided")[0]


def test_timeline_escapes_captions_and_marks_loose_evidence(svc: DemoService, indexed: Indexed) -> None:
    tree = svc.tree(indexed)
    leaf = tree.leaves()[0]
    tree.replace(leaf.model_copy(update={"caption": "<script>alert(1)</script>"}))
    html = timeline_html(tree, evidence=[Span(start=1.0, end=2.0, kind="line", text="<b>x</b>")],
                         visited=[Span(node_id=leaf.id, start=leaf.start, end=leaf.end)])
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>x" not in html
    assert "vn-cite-line" in html


def test_chapters_and_exports(svc: DemoService, indexed: Indexed) -> None:
    chapters, files, skipped = svc.chapters(indexed)
    assert chapters and chapters[0].start == 0.0
    assert {"json", "md", "webvtt", "ffmetadata"} <= set(files)
    for path in files.values():
        assert path.is_file() and path.resolve().is_relative_to((svc.root / "exports").resolve())
    assert files["webvtt"].read_text().startswith("WEBVTT")
    out = demo_ui.on_chapters(svc, indexed)
    assert "chapters" in out[0] and out[1] and len(out) == 3 + 5
    assert [s[1] for s in out[2]] == [c.start for c in chapters]  # what a click on a chapter row plays


def test_parse_options() -> None:
    assert parse_options("a\n\n b \n") == ["a", "b"] and parse_options(None) == []


def test_build_app_constructs(svc: DemoService) -> None:
    app = demo_ui.build_app(svc)
    assert isinstance(app, gr.Blocks)


def test_cli_has_demo_flags() -> None:
    import argparse

    from videonav.agent.cli import demo as cmd_demo
    p = argparse.ArgumentParser()
    cmd_demo.add_arguments(p)
    a = p.parse_args(["--port", "7999", "--max-upload-mb", "5", "--set", "planner.backend=none"])
    assert a.host == "127.0.0.1" and a.port == 7999 and a.max_upload_mb == 5.0


def test_pick_sample_question_fills_question_and_options() -> None:
    q = {"qid": "q001", "question": "Which colour?", "options": ["red", "blue"], "answer": 0}
    state = Indexed(video="x.mp4", tree_key="k", name="x.mp4", questions=[q])
    assert demo_ui.on_pick_question(state, "q001: Which colour?") == ("Which colour?", "red\nblue")


def test_answer_markdown_one_heading_and_no_duplicate_evidence() -> None:
    from videonav.agent.result import AskResult

    ev = [Span(node_id="1.2", start=12, end=40, kind="clip", text="tulip"),
          Span(node_id="1.2", start=12, end=40, kind="line", text="tulip")]
    res = AskResult(question="q", answer="the word\n\nwas tulip", evidence=ev)
    md = demo_ui.answer_markdown(res)
    assert md.startswith("### the word was tulip\n") and md.count("Confidence") == 1 and "1 span" in md
    rows, spans = evidence_rows(res)
    assert rows == [["1.2", "00:12", "00:40", "tulip"]] and spans == [("1.2", 12.0, 40.0)]


def test_play_cuts_the_span_and_seeks_to_it(svc: DemoService, indexed: Indexed) -> None:
    import av

    clip = svc.play(indexed, 5.5, 9.0)
    assert clip.path.resolve().is_relative_to((svc.root / "clips").resolve())
    assert 0.0 <= clip.offset < 2.0 and (clip.start, clip.end) == (5.5, 9.0)
    with av.open(str(clip.path)) as c:  # a playable file holding the span from the offset on
        times = [f.time for f in c.decode(video=0)]
    assert times[0] == pytest.approx(0.0, abs=0.05) and times[-1] >= clip.offset + 3.4
    assert svc.play(indexed, 5.5, 9.0).path == clip.path  # cached: a second click is free
    update, caption = demo_player.on_play(svc, indexed, 5.5, 9.0, "1.2")
    assert update["value"] == str(clip.path) and update["playback_position"] == pytest.approx(clip.offset)
    assert "`[1.2]`" in caption and "00:05" in caption
    _, err = demo_player.on_play(svc, indexed, 500.0, 510.0)
    assert "nothing to play" in err and "Traceback" not in err
    assert "index a video first" in demo_player.on_play(svc, None, 0.0, 1.0)[1]


def test_clicks_on_rows_and_timeline_bars_play(svc: DemoService, indexed: Indexed) -> None:
    spans = [("1.1", 0.0, 4.0), ("1.2", 4.0, 8.0)]
    update, caption = demo_player.on_pick_evidence(svc, indexed, spans, 1)
    assert update["value"] == str(svc.play(indexed, 4.0, 8.0).path) and "`[1.2]`" in caption
    update, caption = demo_player.on_pick_chapter(svc, indexed, [("chapter 1", 0.0, 6.0)], 0)
    assert update["value"] == str(svc.play(indexed, 0.0, 6.0).path) and "chapter 1" in caption
    update, caption = demo_player.on_seek(svc, indexed, "4.000,8.000,1.2,1733000000000")
    assert update["value"] == str(svc.play(indexed, 4.0, 8.0).path)
    assert demo_player.on_seek(svc, indexed, "junk")[1] == ""  # a stray value plays nothing
    assert demo_player.on_pick_evidence(svc, indexed, spans, 7)[1] == ""
    tree = svc.tree(indexed)  # every bar says what it plays
    html = timeline_html(tree)
    for n in tree.nodes():
        assert f'data-node="{n.id}" data-start="{n.start:.3f}" data-end="{n.end:.3f}"' in html
    assert "#vn-timeline [data-start]" in demo_player.PLAYER_JS and "#vn-seek" in demo_player.PLAYER_JS


def test_upload_box_only_in_upload_mode() -> None:
    assert demo_ui.on_source("upload")["visible"] is True
    assert demo_ui.on_source("sample video")["visible"] is False


def test_chapters_report_progress_and_llm_titles_need_an_llm(svc: DemoService, indexed: Indexed) -> None:
    seen: list[tuple[float, str]] = []
    chapters, _, _ = svc.chapters(indexed, progress=lambda f, d: seen.append((f, d)))
    assert f"writing {len(chapters)} chapter titles (extractive)" in [d for _, d in seen]
    steps = [d for _, d in seen if d.startswith("chapter titles (extractive): ")]
    assert len(steps) >= len(chapters)  # one report per chapter (and per section) written
    assert seen[-1][0] == pytest.approx(1.0)
    status = demo_ui.on_chapters(svc, indexed, True)[0]  # planner.backend=none here
    assert "LLM titles need a planner LLM" in status and "Traceback" not in status
