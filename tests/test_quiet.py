"""Quiet by default: a real run through the transformers planner (a tiny random llama built here)
prints no library deprecation warning and no "Loading weights" bar; ``-v`` brings them back.

Why a subprocess: the libraries read their switches when first imported, as in a user's shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from test_llm_transformers import tiny_model_dir  # noqa: E402,F401  (the fixture)


def _ask(tmp_path: Path, model_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    caps = tmp_path / "toy_cap.json"
    caps.write_text(json.dumps({str(10 * i): f"scene {i}: a dog catches a red frisbee" for i in range(4)}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
        env.pop(name, None)  # as a user's shell has them
    cmd = [sys.executable, "-m", "videonav.agent.cli", "ask", "--tree", str(caps), "what does the dog catch",
           "--options", "a frisbee", "a pot", "--strategy", "navigate", "--store", str(tmp_path / "s.sqlite"),
           "--set", "embedder.model=hashing", "--set", "planner.backend=transformers",
           "--set", f"planner.model={json.dumps(str(model_dir))}", "--set", "budget.max_rounds=2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


@pytest.mark.slow  # two interpreter starts that import torch and transformers
def test_quiet_by_default_and_verbose_with_v(tmp_path: Path, tiny_model_dir: Path) -> None:  # noqa: F811
    quiet = _ask(tmp_path, tiny_model_dir)
    assert quiet.returncode == 0, quiet.stderr
    assert "Answer:" in quiet.stdout
    for noise in ("FutureWarning", "deprecated", "Loading weights", "it/s]"):
        assert noise not in quiet.stderr, quiet.stderr
    loud = _ask(tmp_path, tiny_model_dir, "-v")
    assert loud.returncode == 0, loud.stderr
    assert "Loading weights" in loud.stderr and "deprecated" in loud.stderr
