import pytest

from textfix import small_tree, timed_lines
from videonav.memory.builders import default_width, group_lines, skeleton
from videonav.memory.tree import ROOT, CaptionTree, Node, TreeError, child_id, parent_id


def test_path_ids_round_trip():
    for nid in ["1", "2.3", "4.1.7"]:
        assert child_id(parent_id(nid), int(nid.rsplit(".", 1)[-1])) == nid


def test_add_requires_parent_and_unique_ids():
    t = CaptionTree("v", 10)
    t.add(Node(id=ROOT, start=0, end=10, level=0))
    with pytest.raises(TreeError, match="no parent"):
        t.add(Node(id="1.1", start=0, end=5, level=2))
    t.add(Node(id="1", start=0, end=5, level=1))
    with pytest.raises(TreeError, match="duplicate"):
        t.add(Node(id="1", start=0, end=5, level=1))
    with pytest.raises(TreeError, match="ends before"):
        t.add(Node(id="2", start=6, end=5, level=1))


def test_builder_shape_spans_and_captions():
    tree = small_tree(leaf_seconds=5)
    tree.validate()
    leaves = tree.leaves()
    assert len(leaves) == 12  # 60 s of 1-s lines in 5-s leaves
    assert [lf.start for lf in leaves] == [5.0 * i for i in range(12)]
    assert all(len(lf.lines) == 5 for lf in leaves)
    width = tree.meta["width"]
    assert width == default_width(60, 5) == 3
    assert all(len(tree.children(n.id)) <= width for n in tree.nodes())
    # every caption exists and parents' captions are made of their children's sentences
    for n in tree.nodes():
        assert n.caption
        if not tree.is_leaf(n.id):
            child_text = " ".join(c.caption for c in tree.children(n.id))
            for sent in n.caption.split(". "):
                assert sent.rstrip(".") in child_text
    assert tree.root.span == (0.0, 60.0)
    assert len(tree.lines_under(ROOT)) == 60


def test_width_follows_duration():
    assert default_width(180, 1) == 6
    assert default_width(3600, 20) == 6
    assert default_width(20, 10) == 3


def test_skeleton_balanced_and_deep_enough():
    spans = [(float(i), float(i + 1)) for i in range(180)]
    tree, leaf_ids = skeleton("v", spans, width=6)
    assert len(leaf_ids) == 180
    assert tree.depth == 3
    assert all(len(tree.children(n.id)) <= 6 for n in tree.nodes())
    assert [tree.node(i).start for i in leaf_ids] == [float(i) for i in range(180)]


def test_group_lines_windows():
    groups = group_lines(timed_lines(), 7)
    assert sum(len(g) for g in groups) == 60
    assert all(g[-1].start - g[0].start < 7 for g in groups)


def test_lazy_tree_nodes_may_lack_captions():
    tree, _ = skeleton("v", [(0, 10), (10, 20), (20, 30), (30, 40)], width=2)
    assert all(n.caption is None for n in tree.nodes())
    tree.set_caption("1", "hello")
    assert tree.node("1").caption == "hello"
