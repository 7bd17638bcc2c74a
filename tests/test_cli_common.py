"""The options every verb shares (--config, --set, --store) are declared once and mean the same everywhere."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from videonav.agent.cli.common import load_run_config
from videonav.agent.cli.dispatch import commands

VERBS = sorted(commands())


def _parser(verb: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"videonav {verb}")
    importlib.import_module(commands()[verb][0]).add_arguments(p)
    return p


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_the_shared_options_from_one_place(verb: str) -> None:
    opts = _parser(verb)._option_string_actions
    for flag in ("--config", "--set", "--store"):
        assert flag in opts, f"{verb} lacks {flag}"
    assert opts["--config"].type is Path and opts["--store"].type is Path, verb
    assert isinstance(opts["--set"], argparse._AppendAction) and opts["--set"].default == [], verb
    group = next(g for g in _parser(verb)._action_groups if any("--set" in a.option_strings for a in g._group_actions))
    assert group.title == "configuration (shared by every verb)", f"{verb} declares --set by hand"


def test_store_and_set_reach_the_run_config(tmp_path: Path) -> None:
    store = tmp_path / "odd: name #1.sqlite"  # YAML would misread this path unquoted
    args = _parser("eval").parse_args(["--questions", "q.csv", "--set", "budget.max_rounds=3",
                                       "--set", "chapters.count=4", "--store", str(store)])
    cfg = load_run_config(args)
    assert cfg.budget.max_rounds == 3 and cfg.chapters.count == 4 and Path(cfg.store.path) == store


def test_verb_flags_come_after_set(tmp_path: Path) -> None:
    from videonav.agent.cli.index import build_config

    args = _parser("index").parse_args([str(tmp_path / "v.mp4"), "--set", "captioner.backend=openai",
                                        "--captioner", "classic"])
    assert build_config(args).captioner.backend == "classic"
