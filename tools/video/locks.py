"""One ``videonav index`` of a video per store at a time: an advisory lock per (store, video).

Why: two runs of the same video on the same store used to both decode and caption everything
(the second one's writes just replaced the first's). With the lock the second run waits, then
opens the tree the first one stored and has nothing left to do. The lock is ``flock`` on a small
file beside the store, so it disappears with the process (SIGKILL included): no stale locks.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class IndexBusy(UserWarning):
    """Another process is indexing the same video into the same store; this one waits for it."""


def lock_path(store_path: Path, video_hash: str) -> Path:
    tag = hashlib.sha256(f"{store_path.resolve()}|{video_hash}".encode()).hexdigest()[:16]
    return store_path.parent / ".videonav-locks" / f"{tag}.lock"


@contextmanager
def video_lock(store_path: Path, video_hash: str, label: str, wait: bool = True) -> Iterator[None]:
    """Hold the (store, video) lock; when busy, warn once and wait (``wait=False``: raise ``BlockingIOError``)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (concurrent runs only duplicate work)
        yield
        return
    p = lock_path(store_path, video_hash)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only store folder: the store itself will say what is wrong
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            warnings.warn(IndexBusy(f"{label}: another videonav process (pid {holder}) is indexing this video "
                                    f"into {store_path}; waiting for it, then reusing its work"), stacklevel=3)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
