"""Question sets for evaluation, read into one shape: :class:`Question` + a caption lookup.

Formats: ``nextqa`` (val.csv + the 1-fps caption zip/dir), ``nextgqa`` (its val.csv, answer
as text, + gsub_val.json evidence spans), ``egoschema`` (questions JSON + per-second caption
lists), ``longvideor1`` (a directory of LongVideo-R1 caption trees + a questions JSON list),
and ``videonav`` (our sample-video questions JSON): multiple choice (``options`` + ``answer``
index) or free text (``answer_text`` and no ``options``: correct when the normalised truth
occurs in the normalised answer, :func:`videonav.agent.evaluation.metrics.text_correct`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from videonav.memory.formats import CaptionSource, FormatError, egoschema_captions, egoschema_questions
from videonav.memory.tree import TimedText


class Question(BaseModel):
    qid: str
    video: str
    question: str
    options: list[str] = Field(default_factory=list)
    truth: int | None = None
    truth_text: str | None = None
    type: str = ""
    evidence: list[tuple[float, float]] = Field(default_factory=list, description="ground-truth spans (seconds)")


FORMATS = ("nextqa", "nextgqa", "egoschema", "longvideor1", "videonav")


def _read_csv(path: Path | str) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise FormatError(f"{path}: questions file not found") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise FormatError(f"{path}: not a readable CSV ({e})") from None
    return rows


def load_nextqa(path: Path | str) -> list[Question]:
    out = []
    for i, r in enumerate(_read_csv(path)):
        try:
            opts = [r[f"a{j}"] for j in range(5)]
            out.append(Question(qid=f"{r['video']}_{r['qid']}", video=r["video"], question=r["question"],
                                options=opts, truth=int(r["answer"]), type=r.get("type", "")))
        except (KeyError, ValueError) as e:
            raise FormatError(f"{path}: row {i + 2} is not a NExT-QA question ({type(e).__name__}: {e})") from None
    return out


def load_nextgqa(path: Path | str, spans: Path | str | None) -> list[Question]:
    gsub: dict[str, Any] = {}
    if spans:
        try:
            gsub = json.loads(Path(spans).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError) as e:
            raise FormatError(f"{spans}: cannot read NExT-GQA spans ({e})") from None
    out = []
    for i, r in enumerate(_read_csv(path)):
        try:
            vid = r.get("video_id") or r["video"]
            opts = [r[f"a{j}"] for j in range(5)]
            ans = r["answer"]
            truth = int(ans) if ans.isdigit() and int(ans) < 5 and ans not in opts else opts.index(ans)
            loc = gsub.get(vid, {}).get("location", {}).get(str(r["qid"]), [])
            out.append(Question(qid=f"{vid}_{r['qid']}", video=vid, question=r["question"], options=opts,
                                truth=truth, truth_text=opts[truth], type=r.get("type", ""),
                                evidence=[(float(a), float(b)) for a, b in loc]))
        except (KeyError, ValueError) as e:
            raise FormatError(f"{path}: row {i + 2} is not a NExT-GQA question ({type(e).__name__}: {e})") from None
    return out


def load_videonav(path: Path | str, video: str = "") -> list[Question]:
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: cannot read questions ({e})") from None
    if isinstance(rows, dict):
        rows = rows.get("questions", [])
    out = []
    for i, q in enumerate(rows):
        try:
            text = q.get("answer_text")
            if text is not None and not isinstance(text, str | int | float):
                raise TypeError(f"answer_text must be a string, not {type(text).__name__}")
            out.append(Question(qid=str(q.get("qid", i)), video=str(q.get("video", video)), question=q["question"],
                                options=list(q.get("options", [])), truth=q.get("answer"), type=q.get("type", ""),
                                truth_text=None if text is None else str(text),
                                evidence=[tuple(e) for e in q.get("evidence", [])]))
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{path}: question {i} malformed ({e})") from None
    return out


def load_questions(fmt: str, questions: Path | str, captions: Path | str | None = None,
                   spans: Path | str | None = None) -> tuple[list[Question], Callable[[str], list[TimedText]] | None]:
    """Questions plus a ``video id -> timed captions`` lookup (None for ``longvideor1``/``videonav``)."""
    if fmt == "nextqa":
        return load_nextqa(questions), CaptionSource(captions).get if captions else None
    if fmt == "nextgqa":
        return load_nextgqa(questions, spans), CaptionSource(captions).get if captions else None
    if fmt == "egoschema":
        qs = egoschema_questions(questions)
        caps = egoschema_captions(captions) if captions else {}
        return ([Question(qid=q["qid"], video=q["video"], question=q["question"], options=q["options"],
                          truth=q["truth"]) for q in qs], (lambda v: caps[v]) if captions else None)
    if fmt in ("longvideor1", "videonav"):
        return load_videonav(questions), None
    raise FormatError(f"unknown question format {fmt!r}; choose from {', '.join(FORMATS)}")
