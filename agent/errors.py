"""Which exceptions are the user's to fix (printed as one line by the CLI) vs. bugs (traceback).

:func:`user_message` is what the dispatcher prints: the one line a user sees for anything they
can fix (a bad file, flag, store or video), or ``None`` for a bug, which keeps its traceback.
"""

from __future__ import annotations

import argparse
import re
from typing import Any


def is_user_error(e: BaseException) -> bool:
    from videonav.memory.formats import FormatError
    from videonav.memory.store import StoreError
    from videonav.memory.tree import TreeError
    from videonav.tools.embed import BackendUnavailable

    user: tuple[type[BaseException], ...] = (FormatError, StoreError, TreeError, BackendUnavailable,
                                             FileNotFoundError, PermissionError)
    try:
        from videonav.tools.video.probe import VideoError

        user = user + (VideoError,)
    except ImportError:
        pass
    return isinstance(e, user) or getattr(e, "user_error", False) is True


def one_line(text: str, limit: int = 600) -> str:
    """Messages are one line: embedded newlines (pydantic, SQLite, ffmpeg) are folded."""
    s = re.sub(r"\s*\n\s*", "; ", str(text).strip())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _flag_for(field: str, parser: argparse.ArgumentParser | None) -> str | None:
    if parser is None:
        return None
    want = "--" + field.replace("_", "-")
    for action in parser._actions:
        if want in action.option_strings:
            return want
    return None


def _validation_message(e: Any, parser: argparse.ArgumentParser | None) -> str:
    err = e.errors(include_url=False)[0]
    loc = [str(x) for x in err.get("loc", ())]
    flag = next((f for f in (_flag_for(x, parser) for x in reversed(loc)) if f), None)
    got = err.get("input")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if flag:
        return f"{flag} {got!r}: {msg.lower()}; pass a valid value (see --help)"
    where = ".".join(loc) or type(e).__name__
    return f"invalid value for {where} ({got!r}): {msg.lower()}; fix the flag or --set override"


def user_message(e: BaseException, parser: argparse.ArgumentParser | None = None) -> str | None:
    """The one line to print for ``e``, or ``None`` when ``e`` is a bug (let it raise)."""
    import sqlite3
    from pathlib import Path

    from pydantic import ValidationError

    from videonav.memory.paths import os_error_message

    if is_user_error(e):
        if isinstance(e.__context__, ValidationError) and "validation error" in str(e):
            return one_line(_validation_message(e.__context__, parser))  # e.g. ConfigError: name the flag
        if isinstance(e, OSError) and e.filename:
            return one_line(os_error_message(Path(str(e.filename)), e))
        return one_line(str(e))
    if isinstance(e, ValidationError):
        return one_line(_validation_message(e, parser))
    if isinstance(e, RecursionError):
        return "input nested too deeply to process; check the file you passed (e.g. a JSON tree)"
    if isinstance(e, sqlite3.Error):  # a read outside Store's typed writes
        from videonav.memory.store_checks import store_error

        return one_line(str(store_error("store", e, "reading it", writing=False)))
    if isinstance(e, OSError) and e.filename:
        return one_line(os_error_message(Path(str(e.filename)), e))
    return None
