"""Training/dev questions and their caption trees, from the shared NExT-QA files.

Why a module of its own: trajectories, SFT, GRPO and the before/after evaluation must all see
the *same* questions on the *same* side of the split, with the *same* trees. The split is
:func:`videonav.memory.split.split_of` (sha1 of the video id, 80/20), never re-implemented
here; trees come from :func:`videonav.tools.text_source.text_tree`, cached in the SQLite store
(building one costs 1-3 s of embedding on a busy CPU, so a second epoch or a rerun must load,
not rebuild). NExT-GQA's human evidence spans are attached to the NExT-QA questions they
belong to (same video id and qid, same text), so the grounding reward exists where they do.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from videonav.agent.evaluation.datasets import Question, load_nextqa
from videonav.memory.config import TreeConfig
from videonav.memory.formats import CaptionSource
from videonav.memory.split import split_of
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree
from videonav.tools.embed import Embedder

Split = Literal["train", "dev", "all"]


@dataclass(frozen=True)
class DataPaths:
    """Where the shared NExT-QA / NExT-GQA files are (defaults: ``../shared/data`` from the repo root)."""

    questions: Path = Path("../shared/data/nextqa/val.csv")
    captions: Path = Path("../shared/data/nextqa/captions_1fps.zip")
    spans: Path | None = Path("../shared/data/nextgqa/gsub_val.json")

    def missing(self) -> list[str]:
        """Paths that do not exist (tests skip on a machine without ../shared)."""
        need = [self.questions, self.captions]
        return [str(p) for p in need if not Path(p).exists()]


def load_spans(path: Path | str | None) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """``(video, qid) -> evidence spans`` from NExT-GQA's gsub_val.json; {} when absent."""
    if path is None or not Path(path).exists():
        return {}
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for vid, rec in raw.items():
        for qid, spans in (rec.get("location") or {}).items():
            out[(str(vid), str(qid))] = [(float(a), float(b)) for a, b in spans]
    return out


def load_split(paths: DataPaths, split: Split, limit: int | None = None, seed: int = 0,
               types: set[str] | None = None, max_videos: int | None = None) -> list[Question]:
    """Questions of one side of the split (with captions available), evidence attached, sampled.

    Sampling is seeded and happens after filtering, so ``limit=200, seed=0`` names the same
    200 questions in every command. ``max_videos`` first keeps a seeded sample of videos (all
    their questions): NExT-QA has ~9 questions per video and building a tree costs far more
    than answering a question on it, so a run over few videos is much cheaper per question.
    """
    qs = load_nextqa(paths.questions)
    have = set(CaptionSource(paths.captions).ids())
    spans = load_spans(paths.spans)
    out: list[Question] = []
    for q in qs:
        if q.video not in have or (split != "all" and split_of(q.video) != split):
            continue
        if types and q.type not in types:
            continue
        qid = q.qid.rsplit("_", 1)[-1]
        ev = spans.get((q.video, qid))
        out.append(q.model_copy(update={"evidence": ev}) if ev else q)
    if max_videos is not None:
        vids = sorted({q.video for q in out})
        keep = set(random.Random(seed).sample(vids, min(max_videos, len(vids))))
        out = [q for q in out if q.video in keep]
    if limit is not None and limit < len(out):
        out = random.Random(seed).sample(out, limit)
    return out


@dataclass
class TreeBank:
    """Caption trees by video id: memory first, then the store, then built (and stored).

    One instance per process; the GRPO environment and the trajectory teachers share it so a
    tree is built at most once per run and at most once per store.
    """

    paths: DataPaths
    tree_cfg: TreeConfig
    embedder: Embedder
    store: Store | None = None
    _trees: dict[str, CaptionTree] = field(default_factory=dict)
    _captions: CaptionSource | None = None

    def tree(self, video: str) -> CaptionTree:
        if video not in self._trees:
            from videonav.tools.text_source import text_tree

            if self._captions is None:
                self._captions = CaptionSource(self.paths.captions)
            self._trees[video] = text_tree(video, self._captions.get(video), self.tree_cfg, self.embedder,
                                           self.store)
        return self._trees[video]

    def warm(self, videos: list[str], progress: Callable[[int, int], None] | None = None) -> None:
        """Build/load every tree up front (so a trainer's first step is not 100 tree builds)."""
        uniq = list(dict.fromkeys(videos))
        for i, v in enumerate(uniq):
            self.tree(v)
            if progress:
                progress(i + 1, len(uniq))
