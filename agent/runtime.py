"""Assemble a run's components from its config (the only place that decides what to load).

``planner.backend="none"`` runs without an LLM: the guided policy then follows the embedding
prior alone and answers with the option scorer, which is the cheapest useful configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.llm.base import LLM, make_llm
from videonav.memory.store import Store
from videonav.tools.embed import Embedder, make_embedder


@dataclass
class Runtime:
    cfg: RunConfig
    embedder: Embedder
    llm: LLM | None
    scorer: Any
    store: Store


def build_runtime(cfg: RunConfig, need_llm: bool = True) -> Runtime:
    from videonav.agent.scorer import load_default_scorer

    embedder = make_embedder(cfg.embedder)
    llm = make_llm(cfg.planner) if (need_llm and cfg.planner.backend != "none") else None
    scorer = load_default_scorer(embedder)
    return Runtime(cfg, embedder, llm, scorer, Store(cfg.store.path))
