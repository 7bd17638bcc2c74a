"""The layout holds: dependency direction memory <- tools <- agent <- rl, small modules, no outside docs.

Read statically (ast), so a lazy import inside a function, ``importlib.import_module("...")``,
``__import__("...")`` or a module path kept in a string table counts as much as a top-level import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"memory": 0, "tools": 1, "agent": 2, "rl": 3}  # a package may import only lower ranks
MODULE = re.compile(r"videonav\.(memory|tools|agent|rl)(\.\w+)*")
FORBIDDEN_DOCS = ("DESIGN.md", "STACK_NOTES", "STYLE.md")  # notes that never were in the repository
MAX_LINES = 400


def package_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def imported_names(path: Path, strings: bool = True) -> list[tuple[int, str]]:
    """(line, dotted name) of every import statement, dynamic import and (``strings``) module-path string."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("").parts
    here = ["videonav", *rel[:-1]]  # the package this module (or __init__) belongs to
    docs = _docstring_nodes(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            out.append((node.lineno, base))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and (
                getattr(node.func, "id", None) == "__import__" or getattr(node.func, "attr", None) == "import_module"):
            out.append((node.lineno, str(node.args[0].value)))
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if MODULE.fullmatch(node.value) or re.fullmatch(r"(bench|demos)(\.\w+)*", node.value):
                out.append((node.lineno, node.value))  # lazy tables, entry-point strings, runpy names
    return sorted(set(out))


def violations(path: Path) -> list[str]:
    rank = PACKAGES[path.relative_to(ROOT).parts[0]]
    bad = []
    for line, name in imported_names(path):
        parts = name.split(".")
        target = parts[1] if parts[0] == "videonav" and len(parts) > 1 else None
        if parts[0] in ("bench", "demos") or (target == "demos" or target == "bench"):
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} (nothing imports bench/ or demos/)")
        elif target in PACKAGES and PACKAGES[target] > rank:
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}: "
                       f"{path.relative_to(ROOT).parts[0]} may not import {target} (memory <- tools <- agent <- rl)")
    return bad


def test_no_back_edges_and_no_bench_or_demos_imports():
    bad = [v for p in package_files() for v in violations(p)]
    assert not bad, "\n".join(bad)


def test_library_code_never_imports_the_cli():
    cli_modules = {ROOT / "rl" / "cli.py", *(ROOT / "agent" / "cli").glob("*.py")}  # the verbs themselves
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in package_files() if p not in cli_modules
           for line, name in imported_names(p) if name.startswith("videonav.agent.cli")]
    assert not bad, bad


def _prints_or_exits(path: Path) -> list[str]:
    """``print(...)`` / ``sys.exit(...)`` calls outside a script's ``main`` function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "main"
               for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in allowed:
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "print") or (
                    isinstance(f, ast.Attribute) and f.attr == "exit" and getattr(f.value, "id", None) == "sys"):
                out.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def test_library_code_never_prints_or_exits():
    cli_modules = {ROOT / "rl" / "cli.py", *(ROOT / "agent" / "cli").glob("*.py")}
    bad = [hit for p in package_files() if p not in cli_modules for hit in _prints_or_exits(p)]
    assert not bad, f"return values or raise; only CLI verbs print: {bad}"


def test_tests_do_not_import_bench_or_demos():
    bad = [f"{p.name}:{line} {name}" for p in sorted((ROOT / "tests").glob("*.py"))
           for line, name in imported_names(p, strings=False) if name.split(".")[0] in ("bench", "demos")]
    assert not bad, bad


def test_the_checker_sees_every_kind_of_import(tmp_path, monkeypatch):
    fake_root = tmp_path
    (fake_root / "memory").mkdir()
    src = fake_root / "memory" / "leaky.py"
    src.write_text('"""videonav.agent.planner in a docstring is prose, not an import."""\n'
                   "import importlib\n"
                   "from videonav.memory.tree import CaptionTree\n"
                   "def f():\n"
                   "    from videonav.tools.embed import make_embedder\n"
                   '    importlib.import_module("videonav.agent.planner")\n'
                   '    __import__("videonav.rl.cli")\n'
                   "    from ..agent import api\n"
                   "    import demos.make_sample_video\n"
                   'LAZY = {"x": "videonav.rl.grpo"}\n', encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    lines = sorted(int(v.split(":")[1].split()[0]) for v in violations(src))
    assert lines == [5, 6, 7, 8, 9, 10]
    dynamic = [name for _, name in imported_names(src, strings=False)]
    assert "videonav.agent.planner" in dynamic and "videonav.rl.cli" in dynamic and "videonav.rl.grpo" not in dynamic


def test_modules_are_small():
    big = [f"{p.relative_to(ROOT)}: {n} lines" for p in package_files()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not big, f"split these modules (at most {MAX_LINES} lines): {big}"


@pytest.mark.parametrize("init", sorted(p.relative_to(ROOT).as_posix() for pkg in PACKAGES
                                        for p in (ROOT / pkg).rglob("__init__.py")))
def test_every_package_says_in_one_line_what_lives_there(init):
    doc = ast.get_docstring(ast.parse((ROOT / init).read_text(encoding="utf-8")))
    assert doc, f"{init}: no docstring"
    assert "\n" not in doc and len(doc.split()) >= 5 and doc.endswith("."), f"{init}: {doc!r} is not one sentence"


def test_no_file_cites_docs_outside_the_repository():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".mp4", ".sqlite", ".png", ".gguf", ".zip"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{name}: {d}" for d in FORBIDDEN_DOCS if d in text and name != "tests/test_layout.py"]
    assert not hits, f"cite docs/architecture.md instead: {hits}"
