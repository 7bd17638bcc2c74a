"""The options every verb shares, declared once: ``--config``, ``--set``, ``--store``, ``-v``.

Why: six verbs used to declare them by hand and had drifted (``--store`` a ``str`` in some and a
``Path`` in others, a path with a colon broke the YAML override in two, ``--set`` without help
in one). Here they have one spelling, one help text and one meaning: defaults < ``--config``
YAML < ``--set`` overrides in order < the verb's own flags < ``--store``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
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
    g.add_argument("-v", "--verbose", action="count", default=0,
                   help="show the model libraries' own logs, deprecation warnings and progress bars")


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


LIBRARY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "gguf", "accelerate", "torch")
QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}
_quiet_set: set[str] = set()  # the variables quiet_libraries set itself, undone by a verbose run


def quiet_libraries(verbose: int = 0) -> None:
    """Silence the model libraries' logs and progress bars unless ``verbose``.

    Why: every run printed "Loading weights" bars (transformers, sentence-transformers), the GGUF
    de-quantisation bar and library log lines, drowning the one answer a user asked for. The
    variables are read when the libraries are first imported (the CLI imports them later, lazily);
    libraries already imported (in-process callers) are quietened through their own switches.
    A variable the user set themselves is left alone.
    """
    if verbose:
        for name in list(_quiet_set):
            os.environ.pop(name, None)
            _quiet_set.discard(name)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.enable_progress_bar()
        return
    for name, value in QUIET_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            _quiet_set.add(name)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        tlog = sys.modules["transformers"].utils.logging
        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
