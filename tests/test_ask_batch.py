"""``videonav ask --questions FILE`` (a real batch: one JSON answer per question) and ``eval`` on
questions that come without answers (accuracy n/a, predictions still written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from textfix import timed_lines
from videonav.agent.cli import main

FAST = ["--set", "embedder.model=hashing", "--set", "planner.backend=none", "--set", "tree.summary_sentences=3",
        "--set", "planner.confidence_threshold=1.0"]


@pytest.fixture()
def caption_file(tmp_path: Path) -> Path:
    p = tmp_path / "toy_cap.json"
    p.write_text(json.dumps({str(int(ln.start)): ln.text for ln in timed_lines()}))
    return p


def test_two_questions_are_not_merged(tmp_path: Path, caption_file: Path, capsys: Any) -> None:
    rc = main(["ask", "--tree", str(caption_file), "what does the dog catch", "what does the man cook",
               "--store", str(tmp_path / "s.sqlite"), *FAST])
    assert rc == 2 and "--questions FILE" in capsys.readouterr().err


def test_usage_shows_one_question_and_the_batch_form(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    usage = capsys.readouterr().out
    assert "[[VIDEO] QUESTION ...]" not in usage and "--questions FILE" in usage


def test_batch_answers_each_question_as_jsonl(tmp_path: Path, caption_file: Path, capsys: Any) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join([
        json.dumps({"qid": "dog", "question": "what does the dog catch",
                    "options": ["a pot of pasta", "a red frisbee", "a guitar"]}),
        json.dumps("what does the man cook"),
        json.dumps({"qid": "bad", "question": "which?", "options": ["only one"]}),
    ]) + "\n")
    out = tmp_path / "answers.jsonl"
    rc = main(["ask", "--tree", str(caption_file), "--questions", str(qfile), "-o", str(out),
               "--store", str(tmp_path / "s.sqlite"), *FAST])
    err = capsys.readouterr().err
    # the bad item is refused before any model loads or any answer is written, naming the item
    assert rc == 1 and not out.exists() and "question 'bad'" in err and "Traceback" not in err
    qfile.write_text("\n".join(qfile.read_text().splitlines()[:2]) + "\n")
    assert main(["ask", "--tree", str(caption_file), "--questions", str(qfile), "-o", str(out),
                 "--store", str(tmp_path / "s.sqlite"), *FAST]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["qid"] for r in rows] == ["dog", "2"] and rows[1]["question"] == "what does the man cook"
    assert rows[0]["options"][rows[0]["option_index"]] == "a red frisbee"
    assert rows[1]["options"] == [] and isinstance(rows[1]["answer"], str)
    assert "2/2 questions answered" in capsys.readouterr().err


def test_batch_runs_all_and_keeps_order(tmp_path: Path, caption_file: Path, capsys: Any) -> None:
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps({"questions": [
        {"qid": "dog", "question": "what does the dog catch", "options": ["a pot of pasta", "a red frisbee",
                                                                          "a guitar"]},
        {"qid": "cook", "question": "what does the man cook", "options": ["pasta", "a frisbee"]}]}))
    rc = main(["ask", "--tree", str(caption_file), "--questions", str(qfile), "--store",
               str(tmp_path / "s.sqlite"), *FAST])
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["qid"] for r in rows] == ["dog", "cook"]
    assert [r["question"] for r in rows] == ["what does the dog catch", "what does the man cook"]
    assert rows[0]["options"][rows[0]["option_index"]] == "a red frisbee"
    assert all("evidence" in r and "trace" not in r for r in rows)


def test_bad_questions_file_is_one_line(tmp_path: Path, caption_file: Path, capsys: Any) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"question": "ok?"}\n{not json\n')
    assert main(["ask", "--tree", str(caption_file), "--questions", str(qfile), "--store",
                 str(tmp_path / "s.sqlite"), *FAST]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2" in err[0] and "Traceback" not in err[0]


def test_eval_without_answers_prints_na_and_writes_predictions(tmp_path: Path, capsys: Any) -> None:
    qs = tmp_path / "questions.json"
    qs.write_text(json.dumps({"u1": {"question": "what does the dog catch?",
                                     **{f"option {i}": o for i, o in enumerate(
                                         ["pasta", "a red frisbee", "a book", "a guitar", "the sea"])}}}))
    caps = tmp_path / "captions.json"
    caps.write_text(json.dumps({"u1": [ln.text for ln in timed_lines()]}))
    out = tmp_path / "preds.jsonl"
    rc = main(["eval", "--format", "egoschema", "--questions", str(qs), "--captions", str(caps), "--strategy",
               "all-captions,uniform-k", "--output", str(out), "--store", str(tmp_path / "s.sqlite"), *FAST])
    assert rc == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    col = lines[0].split().index("accuracy")
    assert [ln.split()[col] for ln in lines[2:4]] == ["n/a", "n/a"]
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2 and all(r["correct"] is None and r["prediction"] is not None for r in recs)
