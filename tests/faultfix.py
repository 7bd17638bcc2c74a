"""Shared helpers of the fault tests (issue 13): tiny inputs made in ``tmp_path`` and an in-process CLI runner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from videonav.agent.cli import main
from videonav.memory.store import Store

FAST = ["--set", "embedder.model=hashing", "--set", "planner.backend=none"]


def good_tree(**over: object) -> dict:
    """A small valid videonav tree: root [0, 20] with children [0, 10] and [10, 20]."""
    d = {"schema": "videonav.tree", "version": 1, "video_id": "vid", "duration": 20.0, "meta": {},
         "nodes": [{"id": "root", "start": 0, "end": 20, "level": 0, "caption": "all"},
                   {"id": "1", "start": 0, "end": 10, "level": 1, "caption": "first"},
                   {"id": "2", "start": 10, "end": 20, "level": 1, "caption": "second"}]}
    d.update(over)
    return d


def node_edit(i: int, **over: object) -> dict:
    d = good_tree()
    d["nodes"][i].update(over)
    return d


def write(p: Path, content: str | bytes) -> Path:
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def snapshot(p: Path) -> bytes | list[str] | None:
    if p.is_dir():
        return sorted(x.name for x in p.iterdir())
    return p.read_bytes() if p.exists() else None


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def foreign_db(tmp: Path) -> Path:
    p = tmp / "other.sqlite"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.execute("INSERT INTO customers VALUES (1, 'ada')")
    db.commit()
    db.close()
    return p


def make_good_store(tmp_path: Path) -> Path:
    """A store that already holds a good tree (so 'byte-identical' means something)."""
    from videonav.memory.formats import tree_from_dict

    p = tmp_path / "good.sqlite"
    with Store(p) as s:
        s.save_tree("good-key", tree_from_dict(good_tree(video_id="vid")))
    db = sqlite3.connect(p)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return p


def faststart_mp4(path: Path, seconds: int = 20, fps: int = 5) -> Path:
    """A small MP4 with its index up front (as web downloads are), so a cut-off copy still opens."""
    import av
    import numpy as np

    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(seconds * fps):
            fr = np.full((96, 160, 3), (i * 7) % 255, np.uint8)
            fr[:, (i * 3) % 150:(i * 3) % 150 + 10] = 255
            for pkt in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


