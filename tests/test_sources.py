"""Both tree sources declare TreeSource and implement inspect with one signature and one return type."""

from __future__ import annotations

import inspect

import pytest

from textfix import small_tree
from videonav.memory.source import Inspection, TreeSource
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource
from videonav.tools.video.source import VideoTreeSource


def test_both_sources_declare_the_base_with_the_same_inspect() -> None:
    want = inspect.signature(TreeSource.inspect)
    for cls in (TextTreeSource, VideoTreeSource):
        assert issubclass(cls, TreeSource)
        got = inspect.signature(cls.inspect)
        assert list(got.parameters) == list(want.parameters), cls.__name__
        assert got.return_annotation in (Inspection, "Inspection"), cls.__name__
        assert [p.default for p in got.parameters.values()] == [p.default for p in want.parameters.values()]


def test_a_source_missing_inspect_cannot_be_made() -> None:
    class Half(TreeSource):
        def ensure(self, node_ids: list[str]) -> list:  # type: ignore[type-arg]
            return []

    with pytest.raises(TypeError, match="inspect"):
        Half()  # type: ignore[abstract]


def test_text_inspect_returns_lines_within_the_limit() -> None:
    tree = small_tree()
    src = TextTreeSource(tree, HashingEmbedder(), inspect_lines=3)
    node = next(n for n in tree.nodes() if len(tree.lines_under(n.id)) >= 3)
    res = src.inspect(node.id, "dog", limit=2)
    assert isinstance(res, Inspection) and len(res.lines) == 2 and res.reads == 2
    assert isinstance(src.inspect(node.id, "dog"), Inspection)


def test_optional_hooks_are_declared_on_the_base() -> None:
    src = TextTreeSource(small_tree(), HashingEmbedder())
    assert src.tree_key is None
    src.close()  # nothing to release, and no getattr probe needed to find that out
    assert VideoTreeSource.tree_key is not TreeSource.tree_key and VideoTreeSource.close is not TreeSource.close
