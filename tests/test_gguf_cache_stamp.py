"""The fp32 copy of a GGUF is reused across environments (the project's and a vLLM venv)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videonav.agent.llm.transformers import _SOURCE_FILE, ModelSource, gguf_fp32_copy


def _setup(tmp_path: Path, stamp_path: str, size_delta: int = 0) -> tuple[ModelSource, Path]:
    pkg = tmp_path / "venv" / "site-packages" / "llm_pkg"
    pkg.mkdir(parents=True)
    (pkg / "m.gguf").write_bytes(b"not really a gguf" * 10)  # loading it would fail
    root = tmp_path / "cache"
    final = root / "m-fp32"
    final.mkdir(parents=True)
    size = (pkg / "m.gguf").stat().st_size + size_delta
    (final / _SOURCE_FILE).write_text(json.dumps({"gguf": stamp_path, "size": size}), encoding="utf-8")
    return ModelSource(str(pkg), "m.gguf", "m", "m-fp32"), root


def test_copy_written_from_another_environment_is_reused(tmp_path: Path) -> None:
    # written by the project's python; now read from a venv whose package lives elsewhere
    src, root = _setup(tmp_path, "/root/.pyenv/lib/python3.11/site-packages/llm_pkg/m.gguf")
    assert gguf_fp32_copy(src, root) == root / "m-fp32"


def test_a_different_file_is_not_reused(tmp_path: Path) -> None:
    src, root = _setup(tmp_path, "/elsewhere/llm_pkg/m.gguf", size_delta=1)  # the package changed
    with pytest.raises(Exception):  # noqa: B017,PT011 - it tries to convert the (fake) GGUF again
        gguf_fp32_copy(src, root)
