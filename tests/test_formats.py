import json
import zipfile

import pytest

from textfix import small_tree
from videonav.memory.formats import (
    CaptionSource,
    FormatError,
    egoschema_captions,
    egoschema_questions,
    load_any_tree,
    load_seconds_captions,
    load_tree,
    save_tree,
    tree_from_longvideor1,
    tree_to_longvideor1,
)


def test_own_json_round_trip(tmp_path):
    tree = small_tree()
    save_tree(tree, tmp_path / "t.json")
    back = load_tree(tmp_path / "t.json")
    assert [n.model_dump() for n in back.nodes()] == [n.model_dump() for n in tree.nodes()]
    assert back.meta == tree.meta


def test_longvideor1_round_trip_keeps_structure():
    tree = small_tree()
    d = tree_to_longvideor1(tree)
    assert len(d["captions"]) == tree.depth
    back = tree_from_longvideor1(json.loads(json.dumps(d)), "mem")
    assert len(back.leaves()) == len(tree.leaves())
    assert [(n.start, n.end, n.caption) for n in back.leaves()] == [(n.start, n.end, n.caption) for n in tree.leaves()]
    assert [len(back.children(n.id)) for n in back.level(1)] == [len(tree.children(n.id)) for n in tree.level(1)]


def test_seconds_dict_and_zip(tmp_path):
    (tmp_path / "v1_cap.json").write_text(json.dumps({"0": "a", "2": "b", "1": "c"}))
    lines = load_seconds_captions(tmp_path / "v1_cap.json")
    assert [(ln.start, ln.end, ln.text) for ln in lines] == [(0, 1, "a"), (1, 2, "c"), (2, 3, "b")]
    z = tmp_path / "caps.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(tmp_path / "v1_cap.json", "dir/v1_cap.json")
    src = CaptionSource(z)
    assert src.ids() == ["v1"] and [ln.text for ln in src.get("v1")] == ["a", "c", "b"]
    with pytest.raises(FormatError, match="no captions for video 'v2'"):
        src.get("v2")
    assert isinstance(load_any_tree(tmp_path / "v1_cap.json"), list)


def test_egoschema(tmp_path):
    (tmp_path / "q.json").write_text(json.dumps({"u1": {"question": "q?", **{f"option {i}": f"o{i}" for i in range(5)},
                                                       "truth": 3}}))
    (tmp_path / "c.json").write_text(json.dumps({"u1": ["cap0", "cap1"]}))
    qs = egoschema_questions(tmp_path / "q.json")
    assert qs[0]["options"] == ["o0", "o1", "o2", "o3", "o4"] and qs[0]["truth"] == 3
    assert [ln.text for ln in egoschema_captions(tmp_path / "c.json")["u1"]] == ["cap0", "cap1"]


@pytest.mark.parametrize("content,match", [
    ("{not json", "not valid JSON"),
    ('{"schema": "videonav.tree", "version": 99}', "schema version 99"),
    ('{"schema": "videonav.tree", "version": 1, "video_id": "x", "duration": 1, "nodes": [{"id": "1"}]}',
     "malformed videonav tree"),
    ('{"x": "y"}', "keys must be seconds"),
    ("[]", "non-empty"),
])
def test_malformed_files_name_the_file(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(FormatError, match=match) as ei:
        load_any_tree(p) if "schema" not in content else load_tree(p)
    assert str(p) in str(ei.value)


def test_missing_file():
    with pytest.raises(FormatError, match="no such file"):
        load_tree("/nonexistent/tree.json")
