"""Which exceptions are the user's to fix (printed as one line by the CLI) vs. bugs (traceback)."""

from __future__ import annotations


def is_user_error(e: BaseException) -> bool:
    from videonav.memory.formats import FormatError
    from videonav.memory.store import StoreError
    from videonav.memory.tree import TreeError
    from videonav.tools.embed import BackendUnavailable

    user: tuple[type[BaseException], ...] = (FormatError, StoreError, TreeError, BackendUnavailable,
                                             FileNotFoundError, PermissionError)
    try:
        from videonav.tools.video.probe import VideoError  # type: ignore[attr-defined]

        user = user + (VideoError,)
    except ImportError:
        pass
    return isinstance(e, user) or getattr(e, "user_error", False) is True
