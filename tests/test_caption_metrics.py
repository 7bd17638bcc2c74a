"""Caption metrics on cases verified by hand, and the ``videonav eval --format captions`` CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pycocoevalcap")

from videonav.agent.evaluation.caption_metrics import (  # noqa: E402
    caption_scores,
    load_predictions,
    simple_tokenize,
)
from videonav.tools.embed import HashingEmbedder  # noqa: E402

REFS = {"a": ["a red square moves to the right"], "b": ["a blue circle on a green slide"]}


def _scores(preds: dict[str, str], refs: dict[str, list[str]] = REFS, **kw: object):  # noqa: ANN202
    return caption_scores(refs, preds, meteor=False, embedder=HashingEmbedder(), tokenizer="simple", **kw)


def test_identical_captions_score_one() -> None:
    r = _scores({k: v[0] for k, v in REFS.items()})
    for m in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "STS"):
        assert r.overall[m] == pytest.approx(1.0, abs=1e-6), m
    # CIDEr-D by hand: clips share only "a", whose idf is log(2/2) = 0; every other n-gram has
    # idf log 2, so each n's cosine is 1, the length penalty exp(0) = 1, and the score 10 * mean = 10.
    assert r.overall["CIDEr-D"] == pytest.approx(10.0, abs=1e-6)
    assert r.overall["METEOR"] is None and any("METEOR skipped" in n for n in r.notes)


def test_bleu_by_hand() -> None:
    # hypothesis "a red square moves right" (5 words) vs reference of 7 words:
    # 1-grams 5/5, 2-grams 3/4 (a red, red square, square moves), 3-grams 2/3, 4-grams 1/2;
    # brevity penalty exp(1 - 7/5); BLEU-n = BP * geometric mean of the first n precisions.
    r = _scores({"a": "a red square moves right", "b": REFS["b"][0]}, refs={"a": REFS["a"]})
    bp = math.exp(1 - 7 / 5)
    assert r.overall["BLEU-1"] == pytest.approx(bp, rel=1e-6)
    assert r.overall["BLEU-2"] == pytest.approx(bp * math.sqrt(0.75), rel=1e-6)
    assert r.overall["BLEU-4"] == pytest.approx(bp * (1 * 0.75 * (2 / 3) * 0.5) ** 0.25, rel=1e-6)
    # ROUGE-L: LCS 5, P = 5/5, R = 5/7, F with beta 1.2
    p, rc, beta = 1.0, 5 / 7, 1.2
    assert r.overall["ROUGE-L"] == pytest.approx((1 + beta**2) * p * rc / (rc + beta**2 * p), rel=1e-6)
    assert any("no references" in n for n in r.notes)  # "b" predicted but not referenced


def test_worse_caption_scores_lower_and_missing_prediction_is_named() -> None:
    good = _scores({"a": "a red square moves right", "b": "a blue circle on a slide"})
    bad = _scores({"a": "a green triangle", "b": "a red square"})
    for m in ("BLEU-4", "ROUGE-L", "CIDEr-D", "STS"):
        assert good.overall[m] > bad.overall[m], m
    with pytest.raises(ValueError, match="have no prediction"):
        _scores({"a": "x"})


def test_tokenizer_and_prediction_formats(tmp_path: Path) -> None:
    assert simple_tokenize("The RED square, moving!") == "the red square moving"
    (tmp_path / "p.jsonl").write_text('{"id": "a", "caption": "x"}\n{"id": "b", "caption": "y"}\n')
    (tmp_path / "p.json").write_text('{"a": "x", "b": "y"}')
    assert load_predictions(tmp_path / "p.jsonl") == load_predictions(tmp_path / "p.json") == {"a": "x", "b": "y"}
    (tmp_path / "bad.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_predictions(tmp_path / "bad.jsonl")


def _files(tmp_path: Path) -> tuple[Path, Path]:
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.jsonl"
    refs.write_text(json.dumps(REFS))
    preds.write_text("".join(json.dumps({"id": k, "caption": v[0]}) + "\n" for k, v in REFS.items()))
    return refs, preds


def test_cli_json_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from videonav.agent.cli import main

    refs, preds = _files(tmp_path)
    args = ["eval", "--format", "captions", "--references", str(refs), "--predictions", str(preds), "--json",
            "--no-meteor", "--tokenizer", "simple", "--set", "embedder.model=hashing"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D", "STS"):
        assert key in data
    assert data["BLEU-4"] == pytest.approx(1.0) and data["STS"] == pytest.approx(1.0, abs=1e-4)
    assert set(data["per_video"]) == {"a", "b"}
    assert main([*args[:5], "--predictions", str(tmp_path / "none.json"), *args[7:]]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_subprocess_minilm_ptb(tmp_path: Path) -> None:
    refs, preds = _files(tmp_path)
    cmd = [sys.executable, "-m", "videonav.agent.cli", "eval", "--format", "captions", "--references", str(refs),
           "--predictions", str(preds), "--json", "--no-meteor"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["STS"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_meteor_and_ptb_with_java() -> None:
    from videonav.agent.evaluation.caption_metrics import java_available

    if not java_available():
        pytest.skip("no Java runtime")
    r = caption_scores(REFS, {k: v[0] for k, v in REFS.items()}, embedder=HashingEmbedder(), tokenizer="ptb")
    assert r.tokenizer == "ptb" and r.overall["METEOR"] == pytest.approx(1.0, abs=1e-3)
