"""Child processes and temp folders that do not outlive a killed videonav.

Why: a SIGKILLed ``videonav index`` left its tesseract children running (they finish their batch
with nobody to read it) and their ``/tmp/videonav-ocr-*`` folders behind (3 of 7 kills in the
reliability sweep). On Linux :func:`die_with_parent` asks the kernel to SIGKILL a child when its
parent dies (``PR_SET_PDEATHSIG``); folders are named with the owner's pid, and
:func:`clean_stale_dirs` removes those whose owner is gone on the next run.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
STALE_UNNAMED_SECONDS = 3600.0  # folders without a pid in their name: removed once this old


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when this process dies (Linux), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def _preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return _preexec


def owned_prefix(prefix: str) -> str:
    """``videonav-ocr-`` -> ``videonav-ocr-<pid>-``: a temp folder name that says whose it is."""
    return f"{prefix}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_dirs(prefix: str, root: Path | str | None = None) -> int:
    """Remove ``<tmp>/<prefix><pid>-*`` folders whose process is gone (and old unnamed ones); returns how many."""
    base = Path(root or tempfile.gettempdir())
    removed = 0
    try:
        found = list(base.glob(f"{prefix}*"))
    except OSError:
        return 0
    for d in found:
        if not d.is_dir() or d.is_symlink():
            continue
        head = d.name[len(prefix):].split("-", 1)[0]
        try:
            stale = not _alive(int(head)) if head.isdigit() else \
                time.time() - d.stat().st_mtime > STALE_UNNAMED_SECONDS
        except OSError:
            continue
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed += not d.exists()
    return removed
