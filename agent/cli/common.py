"""The options every verb shares, declared once: ``--config``, ``--set``, ``--store``.

Why: six verbs used to declare them by hand and had drifted (``--store`` a ``str`` in some and a
``Path`` in others, a path with a colon broke the YAML override in two, ``--set`` without help
in one). Here they have one spelling, one help text and one meaning: defaults < ``--config``
YAML < ``--set`` overrides in order < the verb's own flags < ``--store``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from videonav.agent.config import RunConfig, load_config

STORE_HELP = "SQLite store (default: store.path from the config, ~/.cache/videonav/store.sqlite)"
CONFIG_HELP = "YAML RunConfig (sections video, tree, captioner, embedder, planner, budget, chapters, store)"


def add_common(p: argparse.ArgumentParser, *, store_help: str = STORE_HELP, config_help: str = CONFIG_HELP,
               store: bool = True) -> None:
    """Declare ``--config FILE``, ``--set KEY=VALUE`` (repeatable) and, unless ``store=False``,
    ``--store FILE`` on a verb's parser; the help texts may say what this verb does with them."""
    g = p.add_argument_group("configuration (shared by every verb)")
    g.add_argument("--config", type=Path, default=None, metavar="FILE", help=config_help)
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override such as planner.prior=none or chapters.count=5; repeatable, "
                        "applied in order after --config")
    if store:
        g.add_argument("--store", type=Path, default=None, metavar="FILE", help=store_help)


def run_overrides(args: argparse.Namespace, extra: Sequence[str] = ()) -> list[str]:
    """``--set`` items, then the verb's ``extra`` overrides, then ``--store`` as ``store.path``.

    >>> ns = argparse.Namespace(set=["seed=1"], store=Path("a: b.sqlite"))
    >>> run_overrides(ns, ["tree.lazy=true"])
    ['seed=1', 'tree.lazy=true', 'store.path="a: b.sqlite"']
    """
    out = [*getattr(args, "set", []), *extra]
    store = getattr(args, "store", None)
    if store:
        out.append(f"store.path={json.dumps(str(store))}")  # JSON is YAML: any path survives quoting
    return out


def load_run_config(args: argparse.Namespace, extra: Sequence[str] = ()) -> RunConfig:
    """The verb's :class:`RunConfig` from the shared options (plus the verb's own ``extra`` overrides)."""
    return load_config(getattr(args, "config", None), run_overrides(args, extra))
