"""One Ray task = one core (issue 17): :func:`videonav.agent.cpu_slots.pinned` gives concurrent holders
different cores, pins threads started before it, frees a SIGKILLed holder's core, and restores the mask."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from videonav.agent.cpu_slots import pinned

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                                reason="needs Linux CPU affinity and at least 2 usable CPUs")

HOLDER = r"""
import os, sys, time
from pathlib import Path
from videonav.agent.cpu_slots import pinned
with pinned(1, Path(sys.argv[1])) as cores:
    print(sorted(cores) if cores else None, sorted(os.sched_getaffinity(0)), flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.02)
"""


def _holder(locks: Path, release: Path, cpus: set[int]) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(locks), str(release)], stdout=subprocess.PIPE,
                         text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    assert p.stdout is not None
    return p, p.stdout.readline().strip()


def test_concurrent_holders_get_different_cores_and_a_killed_one_frees_its_core(tmp_path: Path) -> None:
    two = set(sorted(os.sched_getaffinity(0))[:2])
    a_cpu, b_cpu = sorted(two)
    locks, release = tmp_path / "locks", tmp_path / "release"
    a, line_a = _holder(locks, release, two)
    b, line_b = _holder(locks, release, two)
    c = None
    try:
        assert line_a == f"[{a_cpu}] [{a_cpu}]" and line_b == f"[{b_cpu}] [{b_cpu}]"
        c, line_c = _holder(locks, release, two)
        assert line_c == f"None [{a_cpu}, {b_cpu}]"  # no core free: runs unpinned, not on a taken core
        release.touch()
        c.wait(10)
        release.unlink()
        a.kill()  # SIGKILL: no cleanup ran, the kernel drops its flock
        a.wait(10)
        c, line_c = _holder(locks, release, two)
        assert line_c == f"[{a_cpu}] [{a_cpu}]"
    finally:
        release.touch()
        for p in (a, b, c):
            if p is not None:
                p.kill()
                p.wait(10)


def test_every_thread_is_pinned_then_the_mask_is_restored(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    seen: dict[str, set[int]] = {}
    go, done = threading.Event(), threading.Event()

    def early() -> None:  # a thread that exists before the pin (a cached captioner's OCR pool)
        go.wait(10)
        seen["early"] = os.sched_getaffinity(0)
        done.set()

    t = threading.Thread(target=early)
    t.start()
    time.sleep(0.05)
    with pinned(1, tmp_path) as cores:
        assert cores is not None and len(cores) == 1
        assert os.sched_getaffinity(0) == cores
        go.set()
        done.wait(10)
        assert seen["early"] == cores
        out = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == str(sorted(cores))  # tesseract and other subprocesses inherit it
    t.join()
    assert os.sched_getaffinity(0) == before


def test_nothing_is_pinned_when_the_mask_is_already_small_enough(tmp_path: Path) -> None:
    n = len(os.sched_getaffinity(0))
    with pinned(n, tmp_path) as cores:
        assert cores is None and len(os.sched_getaffinity(0)) == n
    with pinned(0, tmp_path) as cores:
        assert cores is None


def test_the_loop_with_one_ocr_process_runs_on_one_core(tmp_path: Path) -> None:
    """``captioner.ocr_workers=1``: the loop's thread (decoder, OCR thread, tesseract) on one core while
    it runs, the caller's mask back afterwards; the default two OCR processes keep every core."""
    import json

    from conftest import CARDS, render_cards
    from videonav.agent.config import load_config
    from videonav.agent.library import index_library, resolve_jobs

    video = tmp_path / "v.mp4"
    render_cards(video, CARDS, 2.5, 4, size=(320, 180))
    before = os.sched_getaffinity(0)
    for ocr, want in ((1, 1), (2, len(before))):
        seen: list[int] = []
        cfg = load_config(None, ["embedder.model=hashing", f"captioner.ocr_workers={ocr}",
                                 f"store.path={json.dumps(str(tmp_path / f's{ocr}.sqlite'))}"])
        res = index_library(resolve_jobs([video]), cfg,
                            on_video=lambda *_, seen=seen: seen.append(len(os.sched_getaffinity(0))))
        assert not res.failed and seen == [want]
        assert os.sched_getaffinity(0) == before
