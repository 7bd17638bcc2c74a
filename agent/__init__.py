"""The planner, strategies, chapters, evaluation, CLI, demo and the Python API (``Video``, ``ask``)."""

# Importing this package stays instant: the public names resolve on first access (PEP 562
# ``__getattr__`` below), so ``videonav --help`` and ``import videonav.agent`` load no torch,
# transformers or sentence-transformers (tests/test_api.py checks it).

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videonav.agent.api import Video, ask, make_config
    from videonav.agent.result import AskResult

_LAZY = {"Video": "videonav.agent.api", "ask": "videonav.agent.api", "make_config": "videonav.agent.api",
         "AskResult": "videonav.agent.result"}
__all__ = ["AskResult", "Video", "ask", "make_config"]


def __getattr__(name: str) -> Any:
    """Resolve the public names on first use (PEP 562), keeping ``import videonav.agent`` cheap."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'videonav.agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
