"""The tree / ask / eval verbs end to end, in process, on toy data with the hashing embedder."""

import csv
import json
import zipfile

import pytest

from textfix import SCENES, timed_lines
from videonav.agent.cli import main

FAST = ["--set", "embedder.model=hashing", "--set", "planner.backend=none", "--set", "tree.summary_sentences=3",
        "--set", "planner.confidence_threshold=1.0"]


@pytest.fixture()
def caption_file(tmp_path):
    p = tmp_path / "toy_cap.json"
    p.write_text(json.dumps({str(int(ln.start)): ln.text for ln in timed_lines()}))
    return p


def test_tree_import_and_show(tmp_path, caption_file, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["tree", "import", str(caption_file), "--store", store, *FAST]) == 0
    out = capsys.readouterr().out
    key = out.strip().split("tree key ")[-1]
    assert "imported toy" in out
    assert main(["tree", "show", key, "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "[root] 00:00-01:00" in shown and "[1.1]" in shown
    assert main(["tree", "export", key, "--store", store, "--format", "longvideor1", "-o",
                 str(tmp_path / "lv.json")]) == 0
    assert json.loads((tmp_path / "lv.json").read_text())["captions"]


def test_ask_prints_readable_trace(tmp_path, caption_file, capsys):
    rc = main(["ask", "--tree", str(caption_file), "what does the dog catch", "--options", "a pot of pasta",
               "a red frisbee", "a guitar", "--store", str(tmp_path / "s.sqlite"), *FAST])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Answer: a red frisbee" in out and "Evidence: [" in out and "Cost:" in out


def test_ask_json_output(tmp_path, caption_file, capsys):
    main(["ask", "--tree", str(caption_file), "what does the dog catch", "--options", "a pot of pasta",
          "a red frisbee", "a guitar", "--store", str(tmp_path / "s.sqlite"), "--json", *FAST])
    res = json.loads(capsys.readouterr().out)
    assert res["option_index"] == 1
    assert res["evidence"] and 10 <= res["evidence"][0]["start"] < 20
    assert res["cost"]["captions_read"] > 0 and res["trace"]
    runs = list((tmp_path / "runs").iterdir())
    assert runs and (runs[0] / "config.yaml").exists() and (runs[0] / "trace.json").exists()


def test_ask_bad_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert main(["ask", "--tree", str(bad), "q?", "--options", "a", "b", "--store", str(tmp_path / "s.sqlite"),
                 *FAST]) == 1
    assert "bad.json: not valid JSON" in capsys.readouterr().err


def test_eval_nextqa_format(tmp_path, capsys):
    caps = tmp_path / "caps.zip"
    with zipfile.ZipFile(caps, "w") as zf:
        zf.writestr("d/toy_cap.json", json.dumps({str(int(ln.start)): ln.text for ln in timed_lines()}))
    qs = tmp_path / "val.csv"
    with open(qs, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type",
                    "a0", "a1", "a2", "a3", "a4"])
        w.writerow(["toy", 1, 1, 1, "what does the dog catch in the park", 1, 0, "DO",
                    "pasta", "a red frisbee", "a book", "a guitar", "the sea"])
        w.writerow(["toy", 1, 1, 1, "what does the man cook in the kitchen", 0, 1, "DO",
                    "pasta in a pot", "a frisbee", "a book", "a guitar", "a helmet"])
        w.writerow(["missing", 1, 1, 1, "q", 0, 2, "DO", "a", "b", "c", "d", "e"])
    out = tmp_path / "out.jsonl"
    rc = main(["eval", "--format", "nextqa", "--questions", str(qs), "--captions", str(caps), "--strategy",
               "all-captions,uniform-k,search-k,guided", "--k", "4", "--output", str(out), "--store",
               str(tmp_path / "s.sqlite"), *FAST])
    assert rc == 0
    table = capsys.readouterr().out
    for s in ["all-captions", "uniform-k", "search-k", "guided"]:
        assert s in table
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 8  # 2 questions with captions x 4 strategies; the captionless one is skipped
    for r in recs:
        for k in ("qid", "prediction", "truth", "correct", "captions_read", "tool_calls", "tokens", "seconds"):
            assert k in r
    allc = [r for r in recs if r["strategy"] == "all-captions"]
    assert all(r["captions_read"] == 60 for r in allc)
    assert all(r["captions_read"] == 4 for r in recs if r["strategy"] == "uniform-k")
    assert len(SCENES) == 6
