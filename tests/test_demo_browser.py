"""``videonav demo`` in a real browser: Debian's headless Chromium driven by Playwright.

Starts the real CLI (``python -m videonav.agent.cli demo``) on 127.0.0.1 with a free port and a
fresh store, indexes the generated 2-minute sample, asks one of its questions, checks that the
answer panel, the trace table and the timeline highlights are filled, plays the cited evidence,
a timeline bar and a chapter in the player, makes chapters, and saves
screenshots (``$VIDEONAV_DEMO_SCREENSHOT`` or the test's tmp dir; the paths are printed).
Every request the page makes to another host (e.g. web fonts) is aborted: the test only talks
to 127.0.0.1. Run with ``python -m pytest -m browser tests/test_demo_browser.py -s``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(f"demo exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"demo did not answer on {url} in {timeout:.0f} s:\n{tail}")


@pytest.fixture()
def demo_server(tmp_path: Path):
    port = _free_port()
    store = tmp_path / "store" / "store.sqlite"
    log = tmp_path / "demo.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", OMP_THREAD_LIMIT="1")
    cmd = [sys.executable, "-m", "videonav.agent.cli", "demo", "--host", "127.0.0.1", "--port", str(port),
           "--store", str(store), "--set", "planner.backend=none", "--sample-minutes", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_http(f"http://127.0.0.1:{port}/", proc, log)
            yield f"http://127.0.0.1:{port}/", store.parent, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _local_only(route) -> None:  # type: ignore[no-untyped-def]
    host = urlparse(route.request.url).hostname
    if host in ("127.0.0.1", None) or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def _click_first_row(page, table: str, header: str) -> None:  # type: ignore[no-untyped-def]
    """Click the first body cell under ``header``: gradio's dataframe cells are not plain visible
    ``td`` elements, so the click goes to the place just below the header cell."""
    box = page.locator(table).get_by_text(header, exact=True).first.bounding_box()
    assert box, f"{table}: no {header!r} header"
    page.mouse.click(box["x"] + 8, box["y"] + box["height"] + 22)


@pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed")
def test_demo_in_headless_chromium(demo_server, tmp_path: Path, tiny_video) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, store_dir, log = demo_server
    shot = Path(os.environ.get("VIDEONAV_DEMO_SCREENSHOT") or tmp_path / "demo_ask.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", _local_only)
            page.goto(url, wait_until="domcontentloaded")
            sync_api.expect(page.locator("#vn-index")).to_be_visible(timeout=60_000)
            assert not page.locator("#vn-upload").is_visible()  # sample mode: no upload box
            page.locator("#vn-index").click()  # the sample video is the default source
            status = page.locator("#vn-status")
            sync_api.expect(status).to_contain_text("Indexed", timeout=300_000)
            bars = page.locator("#vn-timeline g.vn-bar")
            assert bars.count() >= 3, "timeline has no bars"
            assert page.locator("#vn-timeline g.vn-level-0").count() == 1

            qfile = store_dir / "demo" / "samples" / "sample_2min.questions.json"
            questions = json.loads(qfile.read_text(encoding="utf-8"))
            q = next((q for q in questions if q["type"] == "colour-number"), questions[0])
            page.locator("#vn-question textarea").fill(q["question"])
            page.locator("#vn-options textarea").fill("\n".join(q["options"]))
            page.locator("#vn-ask").click()
            answer = page.locator("#vn-answer")
            sync_api.expect(answer).to_contain_text("Confidence", timeout=300_000)
            text = answer.inner_text()
            assert any(o in text for o in q["options"]), text
            sync_api.expect(page.locator("#vn-cost")).to_contain_text("captions read")
            assert page.locator("#vn-trace tbody tr").count() >= 1
            assert page.locator("#vn-timeline .vn-evidence, #vn-timeline .vn-cite").count() >= 1
            assert page.locator("#vn-timeline .vn-visited").count() >= 1
            assert text.count("Confidence") == 1 and page.locator("#vn-confidence").count() == 0
            assert "Traceback" not in page.content()

            player, playing = page.locator("#vn-player video"), page.locator("#vn-play-status")
            _click_first_row(page, "#vn-evidence", "cited text")  # play the evidence
            sync_api.expect(playing).to_contain_text("Playing", timeout=60_000)
            sync_api.expect(player).to_have_attribute("src", re.compile(r".+"), timeout=30_000)
            page.wait_for_function("() => { const v = document.querySelector('#vn-player video');"
                                   " return v && v.readyState >= 1 && v.duration > 0; }", timeout=30_000)
            first_src = player.get_attribute("src")
            bar = page.locator("#vn-timeline g.vn-bar.vn-level-1").last  # a timeline bar plays its span
            nid = bar.get_attribute("data-node")
            bar.click()
            sync_api.expect(playing).to_contain_text(f"[{nid}]", timeout=60_000)
            sync_api.expect(player).not_to_have_attribute("src", first_src or "", timeout=30_000)
            play_shot = shot.with_name(shot.stem + "_player.png")
            page.screenshot(path=str(play_shot), full_page=True)
            print(f"screenshot: {play_shot}")
            page.screenshot(path=str(shot), full_page=True)
            truth = q["options"][q["answer"]]
            print(f"\nquestion: {q['question']}\nanswer panel: {text.splitlines()[0]}  (truth: {truth})")
            print(f"screenshot: {shot}")

            page.get_by_role("tab", name="Chapters").click()
            page.locator("#vn-chapters").click()
            sync_api.expect(page.locator("#vn-chapters-status")).to_contain_text("chapters", timeout=120_000)
            assert page.locator("#vn-chapter-table tbody tr").count() >= 1
            _click_first_row(page, "#vn-chapter-table", "start")  # a chapter's start time plays it
            sync_api.expect(playing).to_contain_text("chapter 1", timeout=60_000)
            with page.expect_download(timeout=60_000) as dl:
                page.locator("#vn-dl-webvtt").click()
            vtt = Path(dl.value.path()).read_text(encoding="utf-8")
            assert vtt.startswith("WEBVTT") and "-->" in vtt
            chap_shot = shot.with_name(shot.stem + "_chapters.png")
            page.screenshot(path=str(chap_shot), full_page=True)
            print(f"screenshot: {chap_shot}")

            junk = tmp_path / "holiday.mp4"  # right extension, wrong content: the server must refuse it
            junk.write_text("not a video\n" * 100)
            page.get_by_role("radio", name="upload").check()
            sync_api.expect(page.locator("#vn-upload")).to_be_visible(timeout=30_000)
            page.locator("#vn-upload input[type=file]").set_input_files(str(junk))
            page.wait_for_timeout(1500)  # let the upload finish before indexing
            page.locator("#vn-index").click()
            sync_api.expect(status).to_contain_text("not a video", timeout=60_000)
            assert "Traceback" not in status.inner_text() and "holiday" not in status.inner_text()
            err_shot = shot.with_name(shot.stem + "_upload_error.png")
            page.screenshot(path=str(err_shot), full_page=False)
            print(f"screenshot: {err_shot}")

            page.locator("#vn-upload button[aria-label='Clear']").click()  # a real video goes through
            page.locator("#vn-upload input[type=file]").set_input_files(str(tiny_video.path))
            page.wait_for_timeout(1500)
            page.locator("#vn-index").click()
            sync_api.expect(status).to_contain_text("Indexed", timeout=180_000)
            digest = hashlib.sha256(tiny_video.path.read_bytes()).hexdigest()
            assert (store_dir / "demo" / "uploads" / f"{digest}.mp4").is_file()
            assert "00:40" not in page.locator("#vn-chapter-table").inner_text()  # old chapters cleared
            up_shot = shot.with_name(shot.stem + "_upload.png")
            page.screenshot(path=str(up_shot), full_page=False)
            print(f"screenshot: {up_shot}")
        finally:
            browser.close()
