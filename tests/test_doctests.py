"""Docstring examples are tests: ``--doctest-modules`` (pyproject addopts) collects every package module.

The collection itself lives in the repository's root ``conftest.py``; these tests check that it
reaches every package under its installed ``videonav.*`` name (no second ``agent.*`` copy of a
module) and that a missing optional extra skips a module instead of breaking collection.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
# modules whose examples are the reference for their behaviour: each must keep at least one
WITH_EXAMPLES = ["videonav.memory.tree", "videonav.memory.builders", "videonav.memory.store", "videonav.memory.split",
                 "videonav.agent.actions", "videonav.agent.prompts", "videonav.agent.config", "videonav.tools.embed",
                 "videonav.tools.video.readers", "videonav.rl.rewards", "videonav.tools.openai_client",
                 "videonav.agent.api"]

COLLECT = """
import json, sys, pytest
class Items:
    ids = []
    def pytest_collection_finish(self, session):
        self.ids = [i.nodeid for i in session.items]
p = Items()
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "", "agent", "tools", "memory", "rl"],
            plugins=[p])
copies = sorted(m for m in sys.modules if m.split(".")[0] in ("agent", "tools", "memory", "rl"))
print(json.dumps({"ids": p.ids, "copies": copies}))
"""


@pytest.fixture(scope="module")
def collected(request: pytest.FixtureRequest) -> dict:
    ids = [i.nodeid for i in request.session.items if i.nodeid.split("/")[0] in ("agent", "tools", "memory", "rl")]
    if {i.split("/")[0] for i in ids} == {"agent", "tools", "memory", "rl"}:  # the full run collected them here
        return {"ids": ids, "copies": sorted(m for m in sys.modules if m.split(".")[0] in ("agent", "tools",
                                                                                          "memory", "rl"))}
    out = subprocess.run([sys.executable, "-c", COLLECT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_package_contributes_doctests_under_its_installed_name(collected):
    names = {i.split("::")[1].rsplit(".", 1)[0] for i in collected["ids"]} | {
        i.split("::")[1] for i in collected["ids"]}
    for pkg in ("videonav.agent", "videonav.tools", "videonav.memory", "videonav.rl"):
        assert any(n.startswith(pkg + ".") for n in names), pkg
    missing = [m for m in WITH_EXAMPLES if not any(n == m or n.startswith(m + ".") for n in names)]
    assert not missing, f"modules that lost their doctests: {missing}"
    assert all(i.split("::")[1].startswith("videonav.") for i in collected["ids"])


def test_collection_imports_no_second_copy_of_a_package(collected):
    assert collected["copies"] == []


def _root_conftest():
    spec = importlib.util.spec_from_file_location("videonav_root_conftest", ROOT / "conftest.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_module_names_follow_package_dir():
    c = _root_conftest()
    assert c.module_name(ROOT / "agent" / "llm" / "base.py") == "videonav.agent.llm.base"
    assert c.module_name(ROOT / "tools" / "__init__.py") == "videonav.tools"
    assert c.module_name(ROOT / "bench" / "navigation.py") is None
    assert c.module_name(ROOT / "tests" / "test_api.py") is None
    assert {"gradio": "demo", "trl": "train", "vllm": "vllm"}.items() <= c.EXTRAS.items()


def test_a_missing_extra_skips_the_module_and_anything_else_fails(monkeypatch):
    c = _root_conftest()
    fake = SimpleNamespace(path=ROOT / "agent" / "demo" / "app.py")

    def missing(name):
        def imp(_):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return imp

    monkeypatch.setattr(c, "import_module", missing("gradio"))
    with pytest.raises(pytest.skip.Exception, match=r"videonav\.agent\.demo\.app: needs the 'demo' extra"):
        c.PackageDoctestModule._getobj(fake)
    monkeypatch.setattr(c, "import_module", missing("numpy"))
    with pytest.raises(ModuleNotFoundError):
        c.PackageDoctestModule._getobj(fake)
