"""videonav.agent: the planner, answering strategies, chapters, CLI and the Python API (``Video``, ``ask``).

Importing this package is instant: ``Video``, ``ask`` and ``AskResult`` resolve on first access
(module ``__getattr__``), so ``videonav --help`` and ``import videonav.agent`` load no torch,
transformers or sentence-transformers.

>>> import videonav.agent as agent
>>> sorted(agent.__all__)
['AskResult', 'Video', 'ask', 'make_config']
"""

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
