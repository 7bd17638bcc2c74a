"""Why a path cannot be opened, in words: every reader (trees, videos, stores) reports it the same way.

``Path.exists()`` is ``False`` for a missing file, a dangling symbolic link and a link loop alike;
telling the user "no such file" for a link they can see in ``ls`` sends them looking in the wrong
place, so the three are told apart here.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def missing_reason(p: Path) -> str | None:
    """``None`` if ``p`` exists; else why not, ending in what to do."""
    try:
        p.stat()
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"{p}: symbolic link loop (its links lead back to each other); point the link at a real file"
        if p.is_symlink():
            return f"{p}: dangling symbolic link to {os.readlink(p)} " \
                   "(missing); fix the link or pass the file itself"
        if e.errno == errno.ENOTDIR:
            return f"{p}: a part of this path is a file, not a directory; check the path"
        if e.errno == errno.EACCES:
            return f"{p}: permission denied; check the permissions of the folders on the path"
        return f"{p}: no such file; check the path (relative paths are from {Path.cwd()})"


def os_error_message(p: Path, e: OSError) -> str:
    """One line for an ``OSError`` raised while reading ``p``."""
    if e.errno == errno.EISDIR or p.is_dir():
        return f"{p}: is a directory; pass a file"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"{p}: permission denied; check the file's permissions"
    return missing_reason(p) or f"{p}: cannot be read ({e.strerror or e}); check the file"
