"""The Python API (videonav.agent.Video / ask): the README example runs, results are real, imports stay light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from textfix import small_tree
from videonav.agent import AskResult, Video, ask, make_config
from videonav.agent.cli.dispatch import main as cli
from videonav.memory.formats import save_tree

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ["cooks pasta", "catches a red frisbee", "reads a book", "plays guitar", "paints the sea"]
Q = "what does the dog catch in the park"
FAST = {"planner.backend": "none"}


def readme_python_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use from Python", 1)
    assert len(section) == 2, "README.md lost its 'Use from Python' section"
    m = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert m, "no ```python block under 'Use from Python'"
    return m.group(1)


@pytest.fixture()
def toy_tree_file(tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    save_tree(small_tree(), path)
    return path


def test_import_is_instant_and_loads_no_model_code():
    code = ("import sys, videonav.agent as a; a.Video, a.ask, a.AskResult; "
            "print([m for m in ('torch', 'transformers', 'sentence_transformers', 'av', 'videonav.agent.cli') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_example_runs(tmp_path: Path, monkeypatch, capsys, request):
    # tests/conftest.py by its plugin name: the repository root has a conftest.py too
    cards = request.config.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    cards.render_cards(tmp_path / "talk.mp4", cards.CARDS, 10.0, 2)  # 40 s: YouTube wants 3 chapters of 10 s
    monkeypatch.chdir(tmp_path)
    # the tree file the example opens, made the way its comment says
    assert cli(["index", "talk.mp4", "--store", "videonav.sqlite", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["tree_key"]
    assert cli(["tree", "export", key, "-o", "talk_tree.json", "--store", "videonav.sqlite"]) == 0
    capsys.readouterr()
    exec(compile(readme_python_block(), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert re.search(r"^(1234|5678|2468|1357) confidence \d\.\d\d halted by \S+", out, re.M), out
    assert "evidence" in out and "captions read" in out
    assert re.search(r"^00:00 \S", out, re.M), out  # the YouTube chapter list starts at 00:00
    assert out.rstrip().splitlines()[-1] in ("ALPHA", "BRAVO")


def test_from_tree_ask_returns_the_full_result_and_records_it(toy_tree_file: Path, tmp_path: Path, capsys):
    with Video.from_tree(toy_tree_file, store=tmp_path / "s.sqlite", overrides=FAST) as v:
        assert v.video_id == "toy" and v.duration == 60 and v.key is None
        res = v.ask(Q, options=OPTIONS)
        assert isinstance(res, AskResult) and res.strategy == "guided"
        assert res.answer in OPTIONS and res.option_index == OPTIONS.index(res.answer)
        assert 0.0 <= res.confidence <= 1.0
        assert res.trace and res.visited and res.evidence
        assert all(0 <= s.start < s.end <= 60 for s in res.evidence + res.visited)
        assert res.cost.captions_read > 0 and res.cost.rounds == len(res.trace)
        saved = json.loads((v.last_run / "result.json").read_text(encoding="utf-8"))
        assert saved["answer"] == res.answer
        # a second question reuses the runtime (the embedder is built once)
        emb = v._rt.embedder
        v.ask("who plays guitar", options=OPTIONS, strategy="search-k")
        assert v._rt.embedder is emb
    assert capsys.readouterr().out == ""  # library code never prints


def test_strategies_differ_in_what_they_read(toy_tree_file: Path, tmp_path: Path):
    v = Video.from_tree(toy_tree_file, store=tmp_path / "s.sqlite", overrides=FAST)
    reads = {s: v.ask(Q, OPTIONS, strategy=s, record=False).cost.captions_read
             for s in ("all-captions", "uniform-k", "guided")}
    n_texts = sum(1 for n in small_tree().nodes() if n.caption)
    assert reads["all-captions"] >= n_texts - 1 > reads["uniform-k"]
    assert reads["uniform-k"] == v.cfg.budget.max_captions
    v.close()


def test_one_shot_ask_matches_the_video_method(toy_tree_file: Path, tmp_path: Path):
    store = tmp_path / "s.sqlite"
    one = ask(toy_tree_file, Q, OPTIONS, "search-k", store=store, overrides=FAST)
    v = Video.open(toy_tree_file, store=store, overrides=FAST)
    two = ask(v, Q, OPTIONS, "search-k")
    assert (one.answer, [e.node_id for e in one.evidence]) == (two.answer, [e.node_id for e in two.evidence])


def test_chapters_in_every_format(toy_tree_file: Path, tmp_path: Path):
    v = Video.from_tree(toy_tree_file, store=tmp_path / "s.sqlite", overrides=FAST)
    doc = json.loads(v.chapters())
    chapters = doc["chapters"]
    assert doc["video_id"] == "toy" and doc["meta"]["titles"] == "extractive" and chapters
    assert chapters[0]["start"] == 0 and chapters[-1]["end"] == 60
    assert all(a["end"] == b["start"] for a, b in zip(chapters, chapters[1:], strict=False))
    assert v.chapters("md").startswith("# ")
    assert v.chapters("webvtt").startswith("WEBVTT")
    assert v.chapters("ffmetadata").startswith(";FFMETADATA1")
    youtube = v.chapters("youtube").splitlines()
    assert youtube[0].startswith("00:00 ") and len(youtube) >= 3
    assert len(json.loads(v.chapters(count=2))["chapters"]) == 2
    # the config's chapters section is the default, the argument wins over it
    three = Video.from_tree(toy_tree_file, store=tmp_path / "s.sqlite", overrides={**FAST, "chapters.count": 3})
    assert len(json.loads(three.chapters())["chapters"]) == 3
    assert len(json.loads(three.chapters(count=2))["chapters"]) == 2


def test_bad_input_is_one_clear_exception(toy_tree_file: Path, tmp_path: Path):
    v = Video.from_tree(toy_tree_file, store=tmp_path / "s.sqlite", overrides=FAST)
    with pytest.raises(ValueError, match="unknown strategy 'best'; choose from"):
        v.ask(Q, OPTIONS, strategy="best")
    with pytest.raises(ValueError, match="unknown chapter format 'srt'"):
        v.chapters("srt")
    with pytest.raises(ValueError, match="chapters.count"):
        v.chapters(count=0)
    with pytest.raises(ValueError, match="empty"):
        v.ask("  ", OPTIONS)
    with pytest.raises(ValueError, match="titles='llm' needs a planner LLM"):
        v.chapters(titles="llm")
    with pytest.raises(FileNotFoundError, match="no such tree file"):
        Video.from_tree(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="not a tree key"):
        Video.open("no-such-key", store=tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="must look like section.key=value"):
        make_config(overrides=["planner.backend"])


def test_config_layers_and_store():
    base = make_config(overrides={"budget.max_rounds": 3, "planner.backend": "none"})
    cfg = make_config(base, ["budget.max_rounds=5"], store="x.sqlite")
    assert (cfg.budget.max_rounds, cfg.planner.backend, str(cfg.store.path)) == (5, "none", "x.sqlite")
    assert make_config(overrides={"planner.model": "01"}).planner.model == "01"  # strings stay strings
