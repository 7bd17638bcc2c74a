"""LongVideo-R1 caption files in their own layout (their ``data/videocaption_generation.py``):
``{"video_name": "x.mp4", "width": W, "captions": [high, medium, low]}``, each segment
``{"segment_id": int, "level", "caption": "<caption> ... </caption>", "frame_time": [sampled
seconds], "frame_ids": [...]}``. Import strips the wrappers and keeps the ``.mp4`` id; export
writes the same layout back, byte-for-byte equal JSON for an untouched import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textfix import small_tree
from videonav.agent.cli import main
from videonav.memory.formats import load_tree, save_tree, tree_from_longvideor1, tree_to_longvideor1

FAST = ["--set", "embedder.model=hashing"]


def lvr1_file(width: int = 2, duration: float = 64.0) -> dict[str, Any]:
    """A file shaped like theirs: width**k segments per level, 4 sampled frame times each (0.1 s)."""
    levels = []
    for depth, name in enumerate(("high", "medium", "low"), start=1):
        n = width ** depth
        seg_len = duration / n
        level = []
        for i in range(n):
            start, end = i * seg_len, (i + 1) * seg_len - 0.5
            times = [round(start + (end - start) * k / 3, 1) for k in range(4)]
            level.append({"segment_id": i + 1, "level": name,
                          "caption": f"<caption> {name} {i + 1}: a cook stirs the pot & tastes </caption>",
                          "frame_time": times, "frame_ids": [round(t * 30) for t in times]})
        levels.append(level)
    levels[2][1]["caption"] = "Sure.\n<caption>the dog <b>barks</b></caption>"  # model text around the tags
    return {"video_name": "demo_lvr1.mp4", "width": width, "captions": levels}


def test_import_strips_wrappers_and_keeps_the_mp4_name() -> None:
    tree = tree_from_longvideor1(lvr1_file(), "demo_lvr1.json")
    assert tree.video_id == "demo_lvr1.mp4"
    assert [len(tree.level(d)) for d in (1, 2, 3)] == [2, 4, 8]
    assert all(len(tree.children(n.id)) == 2 for n in tree.level(2))
    caps = [n.caption or "" for n in tree.nodes() if n.level]
    assert not any("<caption>" in c or "</caption>" in c for c in caps)
    assert tree.level(1)[0].caption == "high 1: a cook stirs the pot & tastes"
    assert tree.level(3)[1].caption == "the dog <b>barks</b>"
    first = tree.level(3)[0]
    assert (first.start, first.end) == (0.0, 7.5)


def test_untouched_import_exports_the_same_file(tmp_path: Path) -> None:
    original = lvr1_file()
    tree = tree_from_longvideor1(json.loads(json.dumps(original)), "demo_lvr1.json")
    save_tree(tree, tmp_path / "t.json")  # the kept layout survives our own format too
    assert tree_to_longvideor1(load_tree(tmp_path / "t.json")) == original


def test_edited_caption_is_wrapped_again() -> None:
    tree = tree_from_longvideor1(lvr1_file(), "demo_lvr1.json")
    node = tree.level(3)[1]
    tree.set_caption(node.id, "a cat")
    seg = tree_to_longvideor1(tree)["captions"][2][1]
    assert seg["caption"] == "<caption> a cat </caption>" and seg["segment_id"] == 2


def test_built_tree_exports_their_layout() -> None:
    tree = small_tree()
    d = tree_to_longvideor1(tree)
    assert d["video_name"] == tree.video_id and isinstance(d["width"], int) and d["width"] >= 1
    for depth, level in enumerate(d["captions"], start=1):
        assert [s["segment_id"] for s in level] == list(range(1, len(level) + 1))
        for seg, node in zip(level, tree.level(depth), strict=True):
            assert seg["caption"] == f"<caption> {node.caption} </caption>"
            assert seg["frame_time"] == [round(node.start, 1), round(node.end, 1)]
    assert d["captions"][0][0]["level"] == "high" and d["captions"][-1][0]["level"] == "low"
    back = tree_from_longvideor1(json.loads(json.dumps(d)), "x")
    assert [n.caption for n in back.leaves()] == [n.caption for n in tree.leaves()]


def test_cli_import_show_by_name_and_export(tmp_path: Path, capsys: Any) -> None:
    src = tmp_path / "demo_lvr1.json"
    src.write_text(json.dumps(lvr1_file()))
    store = str(tmp_path / "s.sqlite")
    assert main(["tree", "import", str(src), "--store", store, *FAST]) == 0
    capsys.readouterr()
    assert main(["tree", "show", "demo_lvr1.mp4", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("demo_lvr1.mp4") and "[1.1.1]" in shown and "<caption>" not in shown
    out = tmp_path / "back.json"
    assert main(["tree", "export", "demo_lvr1.mp4", "--store", store, "--format", "longvideor1", "-o",
                 str(out)]) == 0
    assert json.loads(out.read_text()) == lvr1_file()
