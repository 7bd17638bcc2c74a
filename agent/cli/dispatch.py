"""``videonav <verb>``: a thin dispatcher. Each verb lives in its own ``cmd_*`` module with
``add_arguments(parser)`` and ``main(args) -> int``, imported only when that verb runs so
``videonav --help`` stays instant and a missing extra only breaks its own verb."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable

COMMANDS: dict[str, tuple[str, str]] = {
    "tree": ("videonav.agent.cli.tree", "import, export and show caption trees"),
    "ask": ("videonav.agent.cli.ask", "answer a question about a video or a caption tree"),
    "eval": ("videonav.agent.cli.eval", "evaluate strategies on NExT-QA / NExT-GQA / EgoSchema / LongVideo-R1 files"),
    "index": ("videonav.agent.cli.index", "build (and store) the caption tree of a video"),
    "chapters": ("videonav.agent.cli.chapters", "chapter titles and summaries from the caption tree"),
    "demo": ("videonav.agent.cli.demo", "launch the gradio demo"),
    "search": ("videonav.agent.cli.search", "find where something was said or shown, across indexed videos"),
    "transcribe": ("videonav.agent.cli.transcribe", "write the speech of a video's audio track as .srt/.vtt"),
}


def _plugin_commands() -> dict[str, tuple[str, str]]:
    """Verbs declared by installed packages in the ``videonav.commands`` entry-point group
    (``train`` from ``videonav.rl``): the agent layer never imports the packages above it."""
    from importlib.metadata import entry_points

    found = {}
    for ep in entry_points(group="videonav.commands"):
        found[ep.name] = (ep.value, "")
    return found


def commands() -> dict[str, tuple[str, str]]:
    cmds = dict(COMMANDS)
    for name, (module, _) in _plugin_commands().items():
        cmds.setdefault(name, (module, PLUGIN_HELP.get(name, f"{name} (from {module})")))
    return cmds


PLUGIN_HELP = {"train": "train navigation policies (sft | grpo)"}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="videonav", description="Agentic understanding of hour-long videos.")
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    subs = {}
    for verb, (_, help_text) in commands().items():
        subs[verb] = sub.add_parser(verb, help=help_text, description=help_text)
    return parser, subs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"videonav {version('videonav')}")
        except PackageNotFoundError:
            print("videonav (not installed as a distribution)")
        return 0
    parser, subs = build_parser()
    verb = next((a for a in argv if not a.startswith("-")), None)
    cmds = commands()
    if verb not in cmds:
        parser.parse_args(argv)  # prints help / usage errors
        parser.print_help()
        return 2
    module = importlib.import_module(cmds[verb][0])
    module.add_arguments(subs[verb])
    args = parser.parse_args(argv)
    verbose = int(getattr(args, "verbose", 0) or 0)
    from videonav.agent.cli.common import quiet_libraries

    quiet_libraries(verbose)  # model libraries' bars and logs only with -v
    try:
        with warnings.catch_warnings():  # e.g. a truncated video: one line, once, not a source excerpt
            warnings.showwarning = _one_line_warnings(verb)
            if not verbose:  # the libraries' deprecation notices are for their callers' authors, not users
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
            rc = int(module.main(args) or 0)
        sys.stdout.flush()  # a closed pipe (`| head -1`) shows up here, not at interpreter exit
        return rc
    except KeyboardInterrupt:
        print("interrupted; work already stored is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141  # as if killed by SIGPIPE, like other tools cut short by `head`
    except Exception as e:  # the CLI is the one place that turns errors into messages
        from videonav.agent.errors import user_message

        msg = user_message(e, subs[verb])
        if msg is None:
            raise
        print(f"videonav {verb}: error: {msg}", file=sys.stderr)
        return 1


def _one_line_warnings(verb: str) -> Callable[..., None]:
    shown: set[str] = set()

    def show(message: Warning | str, *_args: object, **_kw: object) -> None:
        if str(message) not in shown:  # probed three times on the way in: said once
            shown.add(str(message))
            print(f"videonav {verb}: warning: {message}", file=sys.stderr)
    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush does not report the closed pipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or already closed
        pass


if __name__ == "__main__":
    sys.exit(main())
