"""Shard stores of a Ray library run: where a video's shard lives, how it is merged, made ahead.

Why a module of its own: the shard is the unit of resumability on Ray (a task writes every
caption into its video's shard; the driver merges the finished tree into the target store), and
these few functions are all that touches shard files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from videonav.agent.library import VideoJob
from videonav.memory.store import Store


def shard_path(shard_dir: Path, job: VideoJob) -> Path:
    """The video's shard store: named by its resolved path, so a rerun finds the same shard."""
    tag = hashlib.sha256(str(job.path.resolve()).encode()).hexdigest()[:16]
    return shard_dir / f"{job.path.stem[:40]}-{tag}.sqlite"


def merge_payload(store: Store, payload: dict[str, Any]) -> None:
    """Copy one worker's tree (and its video row and shot scan) into ``store``.

    Idempotent: ``save_tree`` replaces every row of the key in one transaction, so merging the
    same video twice (a driver killed after the merge, before its done record) leaves one copy.
    """
    v = payload.get("video")
    if v:
        store.put_video(v["video_id"], v["path"], v["content_hash"], v["duration"], v["probe"])
    if payload.get("scan") is not None:
        store.cache_put(f"scan:{payload['tree_key']}", payload["scan"])
    store.save_tree(payload["tree_key"], payload["tree"])


def merge_store(store: Store, shard: Path | str) -> list[str]:
    """Merge every tree of a shard store file into ``store`` (e.g. shards left on a worker's disk);
    returns the tree keys merged."""
    keys = []
    with Store(shard, create=False) as src:
        for key in src.tree_keys():
            tree = src.load_tree(key)
            merge_payload(store, {"tree_key": key, "tree": tree, "video": src.get_video(tree.video_id),
                                  "scan": src.cache_get(f"scan:{key}")})
            keys.append(key)
    return keys


def remove_shard(shard: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(shard) + suffix).unlink(missing_ok=True)


class ShardMaker:
    """Creates the next videos' (empty) shard stores in a background thread of the driver.

    Why: a new SQLite store costs ~0.1 s of wall but a few ms of CPU (the rest is fsync: WAL
    switch, checkpoint, close); made by the task it leaves the task's core idle that long per
    video, made here it overlaps the cluster start or the running video. Each is made under a
    temporary name and hard-linked into place, so it never replaces a shard a task already
    opened, and a task never opens one half made. Only for a cluster on this machine."""

    def __init__(self, shards: Path) -> None:
        self._shards = shards
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="videonav-shards")
        self._asked: set[Path] = set()

    def ahead(self, jobs: Sequence[VideoJob]) -> None:
        for job in jobs:
            path = shard_path(self._shards, job)
            if path not in self._asked:
                self._asked.add(path)
                self._pool.submit(_make_shard, path)

    def close(self, cancel: bool = True) -> None:
        """Wait for the shard being made; ``cancel``: drop those not started (the run is over)."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _make_shard(path: Path) -> None:
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with Store(tmp):
            pass
        if not any(Path(str(tmp) + s).exists() for s in ("-wal", "-shm")):  # closed clean: one file
            with contextlib.suppress(FileExistsError):  # the task was faster: it keeps its own
                os.link(tmp, path)
    except Exception:  # noqa: BLE001, S110 - an optimisation only: the task makes its shard itself
        pass
    finally:
        remove_shard(tmp)
