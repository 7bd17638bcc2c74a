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


def test_saving_a_tree_replaces_all_its_rows(tmp_path):
    """Re-importing an edited file (same key) with fewer nodes must not keep the old extra nodes."""
    from videonav.memory.tree import CaptionTree, Node

    big = small_tree()
    small = CaptionTree(big.video_id, big.duration, big.meta)
    small.add(big.root)
    with Store(tmp_path / "s.sqlite") as st:
        st.save_tree("k", big)
        st.save_tree("k", small)
        assert st.count_nodes("k") == 1 and [n.id for n in st.load_tree("k").nodes()] == ["root"]
        bad = CaptionTree(big.video_id, big.duration)
        bad.add(Node(id="root", start=0, end=10, level=0))
        bad.add(Node(id="1", start=5, end=50, level=1))  # outside its parent
        with pytest.raises(ValueError, match="outside parent"):
            st.save_tree("k", bad)
        assert st.count_nodes("k") == 1  # the failed save wrote nothing


def test_foreign_sqlite_is_refused_byte_identical(tmp_path):
    p = tmp_path / "other.db"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = p.read_bytes()
    with pytest.raises(StoreError, match="not a videonav store"):
        Store(p)
    assert p.read_bytes() == before


def test_read_only_directory_is_named(tmp_path, monkeypatch):
    """As root every directory is writable, so the check is driven through os.access."""
    import videonav.memory.store_checks as checks

    monkeypatch.setattr(checks.os, "access", lambda path, mode: False)
    with pytest.raises(StoreError, match="read-only directory"):
        Store(tmp_path / "new.sqlite")
    assert not (tmp_path / "new.sqlite").exists()


def test_store_checks_integrity_once_before_the_first_write(tmp_path):
    p = tmp_path / "s.sqlite"
    Store(p).close()
    calls: list[str] = []
    with Store(p) as st:
        st._db.set_trace_callback(calls.append)
        st.cache_get("a")
        assert not any("quick_check" in q for q in calls)  # reads do not pay for it
        st.cache_put("a", 1)
        st.cache_put("b", 2)
    assert sum("quick_check" in q for q in calls) == 1
