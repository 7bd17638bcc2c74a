"""Caption metrics: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap) and STS (MiniLM cosine).

Why these: they are what video-captioning papers report (MSR-VTT, VATEX, TRECVID VTT), so a
trained captioner here can be compared with published numbers; STS is PolySmart's embedding
similarity, which forgives paraphrases that n-gram metrics punish. SPICE is left out: it needs
Stanford CoreNLP models that are downloaded on first use, and videonav never downloads.

Scores come from pycocoevalcap itself (not a re-implementation), so they match the COCO
caption evaluation server. Its ``Cider`` *is* CIDEr-D (clipped counts, Gaussian length
penalty, x10), with document frequencies taken from the references being scored. Tokenising:
pycocoevalcap's PTBTokenizer when Java runs (the official pipeline), else
:func:`simple_tokenize` (lower-case words and numbers, punctuation dropped), which gives the
same tokens as PTB on plain sentences. METEOR also needs Java; without it METEOR is ``None``
and the report says why. STS is the mean over references of the cosine between the
prediction's and the reference's MiniLM embeddings (``videonav.tools.embed``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D", "STS")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def simple_tokenize(text: str) -> str:
    """Lower-cased word/number tokens joined by spaces; punctuation dropped (PTB-like on plain text).

    >>> simple_tokenize("A red Square, moving RIGHT!  It's 1234.")
    "a red square moving right it's 1234"
    """
    return " ".join(_TOKEN.findall(text.lower()))


def java_available() -> bool:
    """True when a ``java`` binary runs (METEOR and the PTB tokenizer are Java programs)."""
    java = shutil.which("java")
    if java is None:
        return False
    try:
        return subprocess.run([java, "-version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def load_references(path: str | Path) -> dict[str, list[str]]:
    """``{clip_id: [reference, ...]}`` from JSON; a bare string value is one reference."""
    data = _read_json(path, "references")
    if not isinstance(data, dict):
        raise ValueError(f"references {path}: expected a JSON object {{clip_id: [captions]}}, "
                         f"got {type(data).__name__}")
    out: dict[str, list[str]] = {}
    for k, v in data.items():
        refs = [v] if isinstance(v, str) else v
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references {path}: clip {k!r} needs a non-empty list of caption strings")
        out[str(k)] = refs
    return out


def load_predictions(path: str | Path) -> dict[str, str]:
    """``{clip_id: caption}`` from a JSON object, or JSONL lines ``{"id": ..., "caption": ...}``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"predictions {path}: cannot read ({e.strerror}); pass an existing JSON/JSONL file") \
            from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "id" not in data:  # a mapping, not one JSONL record
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"predictions {path}: clip {bad[0]!r} must map to one caption string")
        return {str(k): v for k, v in data.items()}
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"predictions {path}: line {n} is not JSON; use a JSON object or JSONL with "
                             "'id' and 'caption'") from None
        if not isinstance(rec, dict) or "id" not in rec or not isinstance(rec.get("caption"), str):
            raise ValueError(f"predictions {path}: line {n} needs 'id' and a string 'caption'")
        out[str(rec["id"])] = rec["caption"]
    return out


def _read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot read ({e.strerror}); pass an existing JSON file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} {path}: not valid JSON ({e.msg}, line {e.lineno})") from None


@dataclass
class CaptionReport:
    """Corpus scores (``overall``), the same metrics per clip (``per_video``) and notes (skips)."""

    overall: dict[str, float | None]
    per_video: dict[str, dict[str, float | None]]
    notes: list[str] = field(default_factory=list)
    tokenizer: str = "simple"

    def to_json(self) -> dict[str, Any]:
        return {**self.overall, "per_video": self.per_video, "notes": self.notes, "tokenizer": self.tokenizer,
                "n_videos": len(self.per_video)}


def _tokenize(refs: Mapping[str, Sequence[str]], preds: Mapping[str, str], ptb: bool
              ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    if ptb:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer()
        g = tok.tokenize({k: [{"caption": r} for r in v] for k, v in refs.items()})
        r = tok.tokenize({k: [{"caption": preds[k]}] for k in refs})
    else:
        g = {k: [simple_tokenize(x) for x in v] for k, v in refs.items()}
        r = {k: [simple_tokenize(preds[k])] for k in refs}
    # an empty hypothesis would make METEOR's Java process wait forever: score it as one unknown word
    r = {k: [v[0] if v[0].strip() else "empty"] for k, v in r.items()}
    return g, r


def sts_scores(refs: Mapping[str, Sequence[str]], preds: Mapping[str, str], embedder: Any) -> dict[str, float]:
    """Per clip: mean cosine between the prediction and each reference (embeddings are unit-norm)."""
    import numpy as np

    ids = list(refs)
    texts = [preds[k] for k in ids] + [r for k in ids for r in refs[k]]
    vecs = np.asarray(embedder.encode(texts), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    out, j = {}, len(ids)
    for i, k in enumerate(ids):
        n = len(refs[k])
        out[k] = float((vecs[j:j + n] @ vecs[i]).mean())
        j += n
    return out


def caption_scores(refs: Mapping[str, Sequence[str]], preds: Mapping[str, str], *, meteor: bool = True,
                   sts: bool = True, embedder: Any = None, tokenizer: str = "auto") -> CaptionReport:
    """Scores ``preds`` against ``refs`` over the clips of ``refs`` (each needs a prediction).

    ``tokenizer``: ``"ptb"`` (Java), ``"simple"`` or ``"auto"`` (PTB when Java runs).
    ``embedder``: anything with ``encode(texts)``; None = MiniLM. Predictions for clips
    without references are ignored (reported in ``notes``).
    """
    if not refs:
        raise ValueError("no reference clips to score")
    missing = [k for k in refs if k not in preds]
    if missing:
        raise ValueError(f"{len(missing)} of {len(refs)} reference clips have no prediction (e.g. {missing[:3]}): "
                         "caption them or drop them from the references")
    if tokenizer not in ("auto", "ptb", "simple"):
        raise ValueError(f"tokenizer must be 'auto', 'ptb' or 'simple', got {tokenizer!r}")
    notes: list[str] = []
    extra = sorted(set(preds) - set(refs))
    if extra:
        notes.append(f"{len(extra)} predictions have no references and were ignored (e.g. {extra[:3]})")
    java = java_available() if (meteor or tokenizer != "simple") else False
    ptb = tokenizer == "ptb" or (tokenizer == "auto" and java)
    if ptb and not java:
        raise ValueError("tokenizer='ptb' needs Java (`apt-get install default-jre-headless`); use 'simple'")
    g, r = _tokenize(refs, preds, ptb)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    ids = list(refs)
    per: dict[str, dict[str, float | None]] = {k: {} for k in ids}
    overall: dict[str, float | None] = {}
    bleu, bleu_each = Bleu(4).compute_score(g, r, verbose=0)
    for n in range(4):
        overall[f"BLEU-{n + 1}"] = float(bleu[n])
        for k, v in zip(ids, bleu_each[n], strict=True):
            per[k][f"BLEU-{n + 1}"] = float(v)
    overall["METEOR"] = None
    if meteor and java:
        from pycocoevalcap.meteor.meteor import Meteor

        scorer = Meteor()
        try:
            m, m_each = scorer.compute_score(g, r)
        finally:
            _close_meteor(scorer)
        overall["METEOR"] = float(m)
        for k, v in zip(ids, m_each, strict=True):
            per[k]["METEOR"] = float(v)
    elif meteor:
        notes.append("METEOR skipped: it needs a Java runtime (`apt-get install default-jre-headless`)")
    else:
        notes.append("METEOR skipped (meteor=False / --no-meteor)")
    for name, scorer_cls in (("ROUGE-L", Rouge), ("CIDEr-D", Cider)):
        score, each = scorer_cls().compute_score(g, r)
        overall[name] = float(score)
        for k, v in zip(ids, each, strict=True):
            per[k][name] = float(v)
    if len(ids) == 1:
        notes.append("CIDEr-D takes document frequencies from the scored references: with one clip every "
                     "n-gram is common and CIDEr-D is 0; score several clips together")
    overall["STS"] = None
    if sts:
        if embedder is None:
            from videonav.tools.embed import make_embedder

            embedder = make_embedder()
        each_sts = sts_scores(refs, preds, embedder)
        overall["STS"] = sum(each_sts.values()) / len(each_sts)
        for k in ids:
            per[k]["STS"] = each_sts[k]
    for k in ids:
        for name in METRICS:
            per[k].setdefault(name, None)
    return CaptionReport({m: overall.get(m) for m in METRICS}, per, notes, "ptb" if ptb else "simple")


def _close_meteor(scorer: Any) -> None:
    """Ends METEOR's Java subprocess (pycocoevalcap only does it in ``__del__``)."""
    proc = getattr(scorer, "meteor_p", None)
    if proc is None:
        return
    try:
        with scorer.lock:
            proc.stdin.close()
            proc.kill()
            proc.wait(timeout=10)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # its __del__ closes again, harmlessly, on an ended process


def format_report(report: CaptionReport, per_video: bool = False) -> str:
    """A plain-text table: one overall row (and one per clip with ``per_video``)."""
    cols = list(METRICS)
    head = f"{'clip':<24}" + "".join(f"{c:>9}" for c in cols)

    def row(name: str, vals: Mapping[str, float | None]) -> str:
        cells = "".join(f"{'-' if vals.get(c) is None else format(vals[c], '.4f'):>9}" for c in cols)
        return f"{name[:24]:<24}{cells}"

    lines = [head]
    if per_video:
        lines += [row(k, v) for k, v in report.per_video.items()]
    lines.append(row(f"ALL ({len(report.per_video)} clips)", report.overall))
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"tokenizer: {report.tokenizer}")
    return "\n".join(lines)
