"""The wheel carries every runtime file: code, prompts, weights, configs, the sample generator, the licence."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"agent": "videonav/agent", "tools": "videonav/tools", "memory": "videonav/memory", "rl": "videonav/rl"}
DATA_SUFFIXES = (".py", ".txt", ".jinja", ".json", ".yaml")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out), str(ROOT)], capture_output=True, text=True, cwd=build, timeout=300)
    if r.returncode != 0:
        pytest.fail(f"wheel build failed: {r.stderr[-2000:]}")
    (whl,) = out.glob("videonav-*.whl")
    return zipfile.ZipFile(whl)


def test_wheel_contains_every_runtime_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = []
    for folder, pkg in PACKAGES.items():
        for f in (ROOT / folder).rglob("*"):
            if f.is_file() and f.suffix in DATA_SUFFIXES and "__pycache__" not in f.parts:
                want = f"{pkg}/{f.relative_to(ROOT / folder).as_posix()}"
                if want not in names:
                    missing.append(want)
    assert not missing, f"not in the wheel: {missing}"
    assert "videonav/tools/video/sample_video.py" in names
    assert any(n.endswith("scorer_weights.json") for n in names)
    assert any(n.startswith("videonav/rl/configs/") and n.endswith(".yaml") for n in names)


def test_wheel_metadata_licence_and_entry_points(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    meta = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in meta
    assert "Classifier: Topic :: Multimedia :: Video" in meta
    eps = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "videonav = videonav.agent.cli:main" in eps
    assert "[videonav.commands]" in eps and "train = videonav.rl.cli" in eps


def test_version_flag() -> None:
    r = subprocess.run([sys.executable, "-m", "videonav.agent.cli", "--version"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("videonav ")
