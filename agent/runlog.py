"""Every run writes its config and trace: into the store's runs table and a run folder."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig, save_config
from videonav.memory.store import Store


def new_run_id(kind: str) -> str:
    """Sortable by time and unique: runs started in the same second (or by parallel processes) get
    different ids, so no run record overwrites another.

    >>> a, b = new_run_id("ask"), new_run_id("ask")
    >>> a != b and a.split("-")[2] == "ask"
    True
    """
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:12]}"


def save_run(store: Store, kind: str, cfg: RunConfig, result: dict[str, Any], trace: list[Any],
             tree_key: str | None = None, run_dir: Path | str | None = None) -> Path:
    """Persist config + result + trace; returns the run folder (config.yaml, result.json, trace.json)."""
    run_id = new_run_id(kind)
    store.save_run(run_id, kind, tree_key, cfg.model_dump(mode="json"), result, trace)
    folder = Path(run_dir) if run_dir else store.path.parent / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    save_config(cfg, folder / "config.yaml")
    (folder / "result.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    (folder / "trace.json").write_text(json.dumps(trace, indent=1, default=str), encoding="utf-8")
    return folder
