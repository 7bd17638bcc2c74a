"""``videonav search --grow N``: a hit's span widened over the time-adjacent hits among the N best."""

from __future__ import annotations

import json

from test_search_ranking import _video

from videonav.agent.cli.dispatch import main as cli
from videonav.memory.store import Store
from videonav.tools import search as search_mod


def _store(path) -> str:  # type: ignore[no-untyped-def]
    """One video whose 'heron' moment straddles two 5-s leaves (5-10 s and 10-15 s), both at the tree's
    leaf level (four leaves, fan-out 2: growing joins nodes of the same level only)."""
    search_mod._MEMORY.clear()
    s = Store(path)
    _video(s, "k", "v", ["a quiet lake at dawn", "a grey heron lands on the water", "the heron catches a fish",
                         "a boat passes by"])
    s.close()
    return str(path)


def test_cli_grow_widens_the_top_leaf_over_its_ranked_neighbour(tmp_path, capsys):
    base = ["search", "heron", "--store", _store(tmp_path / "g.sqlite"), "--mode", "lexical", "--level", "leaf",
            "--top", "1", "--json"]
    assert cli(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert len(plain) == 1 and plain[0]["end"] - plain[0]["start"] == 5.0
    assert cli([*base, "--grow", "2"]) == 0
    grown = json.loads(capsys.readouterr().out)
    assert [(h["start"], h["end"]) for h in grown] == [(5.0, 15.0)]
    assert grown[0]["node"] == plain[0]["node"] and grown[0]["score"] == plain[0]["score"]  # ranking unchanged
    assert cli([*base, "--grow", "0"]) == 0
    assert json.loads(capsys.readouterr().out) == plain


def test_cli_grow_rejects_a_negative_count_in_one_line(tmp_path, capsys):
    assert cli(["search", "heron", "--store", _store(tmp_path / "n.sqlite"), "--grow", "-1"]) == 1
    err = capsys.readouterr().err
    assert "--grow must be 0 (off) or more" in err and "Traceback" not in err
