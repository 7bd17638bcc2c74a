import sqlite3

import pytest

from textfix import small_tree
from videonav.memory.store import Store, StoreError, tree_key


def test_save_load_idempotent(tmp_path):
    tree = small_tree()
    with Store(tmp_path / "s.sqlite") as st:
        st.save_tree("k", tree)
        st.save_tree("k", tree)  # idempotent: same rows, no duplicates
        assert st.count_nodes("k") == len(tree)
        back = st.load_tree("k")
    assert [n.model_dump() for n in back.nodes()] == [n.model_dump() for n in tree.nodes()]


def test_put_node_persists_immediately_and_other_keys_untouched(tmp_path):
    tree = small_tree()
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        st.save_tree("a", tree)
        st.put_tree_meta("b", "toy", 60, {})
        st.put_node("b", tree.root)
    # a separate connection sees the node: it was committed, not buffered
    n = sqlite3.connect(path).execute("select count(*) from nodes where tree_key='b'").fetchone()[0]
    assert n == 1
    with Store(path) as st:
        assert st.count_nodes("a") == len(tree)
        assert st.captioned_ids("b") == {"root"}


def test_tree_key_names_settings():
    assert tree_key("h", leaf=5, backend="classic") != tree_key("h", leaf=5, backend="transformers")
    assert tree_key("h", a=1, b=2) == tree_key("h", b=2, a=1)


def test_not_a_store(tmp_path):
    p = tmp_path / "x.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="--store"):
        Store(p)


def test_cache_and_runs(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        assert st.cache_get("q") is None
        st.cache_put("q", {"a": 1})
        assert st.cache_get("q") == {"a": 1}
        st.save_run("r1", "ask", None, {"c": 1}, {"answer": "x"}, [{"round": 1}])
        assert st.get_run("r1")["trace"] == [{"round": 1}]
