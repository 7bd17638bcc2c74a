"""Property test (issue 13): no input to ``tree import`` produces a traceback.

Inputs are near-valid trees with random damage (wrong types, NaN/inf, negative or reversed spans,
duplicate or malformed ids, deep nesting, odd top-level values), plus arbitrary JSON. Each either
imports (and then round-trips through a store) or fails with a :class:`FormatError`; nothing else.
A few dozen examples run by default; ``-m slow`` runs 10,000.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videonav.memory.formats import FormatError, load_any_tree
from videonav.memory.store import Store
from videonav.memory.tree import CaptionTree

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8),
                    st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                           st.dictionaries(st.text(max_size=6), kids, max_size=4)),
                           max_leaves=5)
odd = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2))
ids = st.one_of(st.sampled_from(["root", "1", "2", "1.1", "1.2", "2.1", "3", "0", "1.0", "", "a", "root.1", "1..2"]),
                st.text(max_size=5))
times = st.one_of(st.floats(-5, 50), st.sampled_from([0.0, 10.0, 20.0, math.nan, math.inf]), st.integers(-3, 40),
                  st.text(max_size=3), st.none())


@st.composite
def nodes(draw: st.DrawFn) -> Any:
    n: dict[str, Any] = {"id": draw(ids), "start": draw(times), "end": draw(times),
                         "level": draw(st.one_of(st.integers(-1, 4), scalars))}
    if draw(st.booleans()):
        n["caption"] = draw(st.one_of(st.text(max_size=12), odd))
    if draw(st.booleans()):
        n["lines"] = draw(st.one_of(st.lists(st.fixed_dictionaries({"start": times, "end": times,
                                                                     "text": st.text(max_size=5)}), max_size=2),
                                    odd))
    if draw(st.integers(0, 9)) == 0:
        n[draw(st.text(max_size=4))] = draw(odd)
    return n


@st.composite
def tree_docs(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)  # anything at all
    if kind == 1:  # {second: caption}
        return draw(st.dictionaries(st.one_of(st.sampled_from(["0", "1.5", "nan", "-1", "inf"]), st.text(max_size=3)),
                                    st.one_of(st.text(max_size=8), odd), max_size=5))
    if kind == 2:  # LongVideo-R1
        seg = st.fixed_dictionaries({"caption": st.one_of(st.text(max_size=6), odd),
                                     "frame_time": st.one_of(st.lists(times, max_size=3), times)})
        return {"captions": draw(st.one_of(st.lists(st.lists(seg, max_size=3), max_size=3), odd))}
    if kind <= 5:  # a valid tree with at most one field damaged: exercises the store round trip too
        base: dict[str, Any] = {"schema": "videonav.tree", "version": 1, "video_id": "v", "duration": 20.0,
                                "nodes": [{"id": "root", "start": 0, "end": 20, "level": 0, "caption": "all"},
                                          {"id": "1", "start": 0, "end": 10, "level": 1, "caption": "a"},
                                          {"id": "2", "start": 10, "end": 20, "level": 1, "caption": "b"}]}
        if draw(st.booleans()):
            i = draw(st.integers(0, 2))
            field = draw(st.sampled_from(["start", "end", "caption", "level", "id", "transcript"]))
            base["nodes"][i][field] = draw(st.one_of(times, odd, ids))
        return base
    d: dict[str, Any] = {"schema": "videonav.tree", "version": draw(st.sampled_from([1, 1, 1, 2, "1"])),
                         "video_id": draw(st.one_of(st.text(min_size=1, max_size=6), scalars)),
                         "duration": draw(times),
                         "nodes": draw(st.one_of(st.lists(nodes(), min_size=1, max_size=6), odd))}
    if draw(st.booleans()):
        d["meta"] = draw(json_values)
    return d


def _as_json(doc: Any, deep: int) -> str:
    text = json.dumps(doc, allow_nan=True)
    return "[" * deep + text + "]" * deep


def check(doc: Any, deep: int, store: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.json"
        p.write_text(_as_json(doc, deep), encoding="utf-8")
        try:
            got = load_any_tree(p)
        except FormatError as e:
            assert "\n" not in str(e) and str(p) in str(e)
            return
    if isinstance(got, CaptionTree):  # what imports must store and load back unchanged
        with Store(store) as s:
            s.save_tree("fuzz", got)
            back = s.load_tree("fuzz")
        assert [(n.id, n.start, n.end, n.caption) for n in back.nodes()] == \
               [(n.id, n.start, n.end, n.caption) for n in got.nodes()]


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(max_examples=60, **FUZZ)
@given(doc=tree_docs(), deep=st.sampled_from([0, 0, 0, 1, 5000]))
def test_tree_import_never_raises_anything_but_format_error(tmp_path: Path, doc: Any, deep: int) -> None:
    check(doc, deep, tmp_path / "s.sqlite")


@pytest.mark.slow
@settings(max_examples=10_000, **FUZZ)
@given(doc=tree_docs(), deep=st.sampled_from([0, 0, 0, 1, 5000, 100_000]))
def test_tree_import_fuzz_10k(tmp_path: Path, doc: Any, deep: int) -> None:
    check(doc, deep, tmp_path / "s.sqlite")
