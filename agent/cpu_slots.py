"""Pin a worker process to cores of its own: one Ray task holding ``num_cpus=n`` runs on n cores.

Why: Ray's ``num_cpus`` is bookkeeping only. Inside a task FFmpeg sizes its decoder and
swscale thread pools from the CPUs it may run on, tesseract and BLAS do the same, and the indexer
overlaps decoding with OCR on a second thread, so a "one CPU" video task spreads over every core
of the node and two of them fight over the same cores; on a busy machine the decoder's threads
also wait for each other across cores. Measured here (one 10-min sample, classic captioner, the
machine shared with other jobs): pinned to one core 3.6 s and 3.5 CPU-s, unpinned 7.3-7.4 s and
4.9-5.5 CPU-s (decoding alone 1.3 s against 4.9 s; PyAV ``thread_count=1`` alone did not help:
swscale's threads still waited). Pinned, every library sizes itself to one core and n tasks on n
cores do not oversubscribe.

How: cores are claimed through one lock file per core in a node-local folder (``flock``, so a
SIGKILLed worker frees its cores at once); a task takes the first free cores of the mask it was
started with, pins every thread of its process (threads started earlier, e.g. a cached
captioner's OCR pool, included; subprocesses inherit it) or only the calling thread, and restores
the old mask when done. The plain loop with ``captioner.ocr_workers: 1`` takes one core the same
way, so two loops started on one machine land on different cores.
When no core is free (more tasks than cores: another cluster, or logical CPUs > cores) or the
mask already has no more cores than asked for, nothing is pinned.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _pin(cpus: set[int], all_threads: bool) -> None:
    if not all_threads:
        os.sched_setaffinity(0, cpus)  # this thread, and the threads and processes it starts
        return
    for tid in _threads():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)


def lock_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"videonav-cpu-slots-{uid}"


@contextlib.contextmanager
def pinned(n: int = 1, folder: Path | None = None, all_threads: bool = True) -> Iterator[set[int] | None]:
    """Run the block on ``n`` cores no other holder on this node has; yields them (None: not pinned).

    ``all_threads``: pin every thread of the process (a Ray worker, whose cached captioner has
    threads of its own), else only the calling thread and what it starts (a program that calls the
    library keeps its other threads where they were)."""
    if n < 1 or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    import fcntl

    before = os.sched_getaffinity(0)
    if len(before) <= n:
        yield None
        return
    d = folder or lock_dir()
    held: list[tuple[int, IO[str]]] = []
    try:
        d.mkdir(parents=True, exist_ok=True)
        for cpu in sorted(before):
            if len(held) == n:
                break
            f = (d / f"cpu{cpu}.lock").open("a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            held.append((cpu, f))
    except OSError:  # no usable lock folder: run unpinned rather than fail the video
        pass
    try:
        if len(held) < n:
            yield None
            return
        cpus = {c for c, _ in held}
        _pin(cpus, all_threads)
        try:
            yield cpus
        finally:
            _pin(before, all_threads)
    finally:
        for _, f in held:
            f.close()  # closing the file releases the lock
