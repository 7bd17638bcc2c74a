"""Killed runs (issue 13): a resumed index equals an uninterrupted one, concurrent runs of one video do
the work once, and a SIGKILL leaves no tesseract children or OCR temp folders behind for long.

The kills are real SIGKILLs of a child Python process at chosen points (after the n-th stored
node), not exceptions: nothing gets to clean up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from videonav.memory.formats import tree_to_dict
from videonav.memory.store import Store
from videonav.tools.config import EmbedderConfig
from videonav.tools.video.index import index_video

EMB = EmbedderConfig(model="hashing")

KILLER = textwrap.dedent("""
    import os, signal, sys
    from videonav.memory import store as m
    from videonav.tools.config import EmbedderConfig
    from videonav.tools.video.index import index_video
    after = int(sys.argv[3])
    orig, n = m.Store.put_node, [0]
    def put_node(self, key, node):
        orig(self, key, node)
        n[0] += 1
        if n[0] >= after:
            os.kill(os.getpid(), signal.SIGKILL)
    m.Store.put_node = put_node
    with m.Store(sys.argv[2]) as s:
        index_video(sys.argv[1], store=s, embedder=EmbedderConfig(model="hashing"), lazy=False)
""")


def whole(tree) -> str:
    d = tree_to_dict(tree)
    return json.dumps(d, sort_keys=True)


def test_resumed_index_is_identical_to_an_uninterrupted_one(tmp_path: Path, tiny_video) -> None:
    """The sweep found the root caption differed after a resume (scene colours tied differently in the
    fresh and the reloaded scan). Kill after 1, 3 and 6 stored nodes, resume, compare whole trees."""
    with Store(tmp_path / "clean.sqlite") as s:
        clean = index_video(tiny_video.path, store=s, embedder=EMB, lazy=False).tree
    n_nodes = len(clean)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for after in (1, 3, n_nodes - 1):
        store = tmp_path / f"killed{after}.sqlite"
        proc = subprocess.run([sys.executable, "-c", KILLER, str(tiny_video.path), str(store), str(after)],
                              env=env, capture_output=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-500:]
        with Store(store) as s:
            key = s.tree_keys()[-1]
            assert len(s.captioned_ids(key)) == after  # every node stored before the kill is kept
            res = index_video(tiny_video.path, store=s, embedder=EMB, lazy=False)
        assert (res.stats.resumed, res.stats.captioned_now, res.tree_key) == (True, n_nodes - after, key)
        assert whole(res.tree) == whole(clean), f"resumed after {after} nodes differs from the clean tree"


def test_two_runs_of_one_video_do_the_work_once(tmp_path: Path, tiny_video) -> None:
    store = tmp_path / "s.sqlite"
    Store(store).close()
    results: list = []
    errors: list = []

    def run() -> None:
        try:
            with Store(store) as s:
                results.append(index_video(tiny_video.path, store=s, embedder=EMB, lazy=False))
        except Exception as e:  # surfaced below
            errors.append(e)

    with pytest.warns(UserWarning, match="another videonav process"):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(120)
    assert not errors, errors
    done = sorted(r.stats.captioned_now for r in results)
    assert done == [0, len(results[0].tree)], done  # the second waited, then found everything stored
    assert whole(results[0].tree) == whole(results[1].tree)


OCR_VICTIM = textwrap.dedent("""
    import sys, threading, time, numpy as np
    from videonav.tools.captioners.classic import ClassicCaptioner
    from videonav.tools.config import CaptionerConfig
    cap = ClassicCaptioner(CaptionerConfig(ocr_workers=1))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8) for _ in range(40)]
    threading.Thread(target=cap.ocr, args=([frames],), daemon=True).start()
    print("started", flush=True)
    time.sleep(60)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("tesseract") is None,
                    reason="needs Linux (PR_SET_PDEATHSIG) and tesseract")
def test_sigkill_leaves_no_tesseract_and_the_next_run_cleans_temp(tmp_path: Path) -> None:
    import tempfile

    from videonav.tools.children import clean_stale_dirs

    proc = subprocess.Popen([sys.executable, "-c", OCR_VICTIM], stdout=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
    prefix = f"videonav-ocr-{proc.pid}-"
    tmp = Path(tempfile.gettempdir())

    def children() -> list[int]:
        out = []
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and prefix.encode() in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                continue
        return out

    deadline = time.time() + 30
    while not children() and time.time() < deadline:
        time.sleep(0.05)
    assert children(), "tesseract never started"
    proc.kill()
    proc.wait(10)
    deadline = time.time() + 5
    while children() and time.time() < deadline:
        time.sleep(0.05)
    assert not children(), "tesseract outlived its SIGKILLed parent"
    assert list(tmp.glob(f"{prefix}*")), "expected the killed run's temp folder to be left behind"
    assert clean_stale_dirs("videonav-ocr-") >= 1
    assert not list(tmp.glob(f"{prefix}*"))
