"""``videonav <verb>``: a thin dispatcher. Each verb lives in its own ``cmd_*`` module with
``add_arguments(parser)`` and ``main(args) -> int``, imported only when that verb runs so
``videonav --help`` stays instant and a missing extra only breaks its own verb."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "tree": ("videonav.agent.cmd_tree", "import, export and show caption trees"),
    "ask": ("videonav.agent.cmd_ask", "answer a question about a video or a caption tree"),
    "eval": ("videonav.agent.cmd_eval", "evaluate strategies on NExT-QA / NExT-GQA / EgoSchema / LongVideo-R1 files"),
    "index": ("videonav.agent.cmd_index", "build (and store) the caption tree of a video"),
    "chapters": ("videonav.agent.cmd_chapters", "chapter titles and summaries from the caption tree"),
    "train": ("videonav.rl.cmd_train", "train navigation policies (sft | grpo)"),
    "demo": ("videonav.agent.cmd_demo", "launch the gradio demo"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="videonav", description="Agentic understanding of hour-long videos.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    subs = {}
    for verb, (_, help_text) in COMMANDS.items():
        subs[verb] = sub.add_parser(verb, help=help_text, description=help_text)
    return parser, subs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, subs = build_parser()
    verb = next((a for a in argv if not a.startswith("-")), None)
    if verb not in COMMANDS:
        parser.parse_args(argv)  # prints help / usage errors
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[verb][0])
    module.add_arguments(subs[verb])
    args = parser.parse_args(argv)
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; work already stored is kept", file=sys.stderr)
        return 130
    except Exception as e:  # the CLI is the one place that turns errors into messages
        from videonav.agent.errors import is_user_error

        if not is_user_error(e):
            raise
        print(f"videonav {verb}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
