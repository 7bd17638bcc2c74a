"""Pin a worker process to cores of its own: one Ray task holding ``num_cpus=n`` runs on n cores.

Why: Ray's ``num_cpus`` is bookkeeping only. Inside a task FFmpeg sizes its decoder thread pool
from the CPUs it may run on, tesseract and BLAS do the same, and the indexer overlaps decoding
with OCR on a second thread, so a "one CPU" video task spreads over every core of the node and
two of them fight over the same cores. Measured here (one 3-min sample, the other core busy):
pinned to one core the video took 1.3 s and 1.2 CPU-s, unpinned 2.1-2.4 s and 1.6 CPU-s (the
threaded decoder alone went from 0.3 s to 1.1-1.4 s). Pinned, every library sizes itself to one
core and n tasks on n cores do not oversubscribe.

How: cores are claimed through one lock file per core in a node-local folder (``flock``, so a
SIGKILLed worker frees its cores at once); a task takes the first free cores of the mask it was
started with, pins every thread of its process (threads started earlier, e.g. a cached
captioner's OCR pool, included; subprocesses inherit it) and restores the old mask when done.
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


def _pin_all(cpus: set[int]) -> None:
    for tid in _threads():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)


def lock_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"videonav-cpu-slots-{uid}"


@contextlib.contextmanager
def pinned(n: int = 1, folder: Path | None = None) -> Iterator[set[int] | None]:
    """Run the block on ``n`` cores no other holder on this node has; yields them (None: not pinned)."""
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
        _pin_all(cpus)
        try:
            yield cpus
        finally:
            _pin_all(before)
    finally:
        for _, f in held:
            f.close()  # closing the file releases the lock
