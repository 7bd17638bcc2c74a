"""Doctests of every package module under ``--doctest-modules`` (on by default in pyproject.toml).

Why this file: the folders agent/, tools/, memory/ and rl/ are the packages ``videonav.agent``,
``videonav.tools``, ... (pyproject ``package-dir``). pytest would import ``agent/api.py`` as
``agent.api``, a second copy of every module beside ``videonav.agent.api`` (registries filled
twice, ``isinstance`` failing across copies). The wrapper below swaps pytest's doctest collector for
one that imports the module by its installed name. A module whose import needs an optional extra
that is not installed (vllm, trl, gradio, ...: pyproject ``optional-dependencies``) is skipped with
the extra named, so a core-only install still collects cleanly.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Generator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIRS = {Path(d): name for name, d in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}
EXTRAS = {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].replace("-", "_").lower(): extra
          for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items() if extra != "dev"
          for req in reqs}


def module_name(path: Path) -> str | None:
    """``agent/llm/base.py`` -> ``videonav.agent.llm.base``; None outside the packages."""
    rel = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else None
    if rel is None or rel.parts[0] not in {d.as_posix() for d in PACKAGE_DIRS}:
        return None
    parts = [PACKAGE_DIRS[Path(rel.parts[0])], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class PackageDoctestModule(DoctestModule):
    """pytest's doctest collector, importing the module under its ``videonav.*`` name."""

    def _getobj(self) -> Any:
        name = module_name(self.path)
        assert name is not None
        try:
            return import_module(name)
        except ModuleNotFoundError as e:
            top = (e.name or "").split(".")[0].lower()
            if top in EXTRAS:
                pytest.skip(f"{name}: needs the '{EXTRAS[top]}' extra (pip install 'videonav[{EXTRAS[top]}]')")
            raise


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Generator[None, Any, Any]:
    collected = yield
    if module_name(file_path) is None:
        return collected
    return [PackageDoctestModule.from_parent(parent, path=file_path)
            if type(c) is DoctestModule else c for c in collected]
