"""Prompt templates (files in agent/prompts/) and the rendering of tree text as *data*.

Everything that comes from a video (captions, OCR, subtitles) passes through
:func:`videonav.tools.quoting.quote` (the one quoting function, shared with the captioners and
the chapter writer), which neutralises special tokens and tags and flattens newlines, then is
shown inside double quotes after a node id and span: text in a caption cannot open a tool
call, close a tool response or start a new turn. One module builds these strings for the
planner, the SFT trajectories and the GRPO environment, so they can never drift apart.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from videonav.agent.actions import LETTERS
from videonav.memory.timefmt import clock
from videonav.memory.tree import Node
from videonav.tools.quoting import quote

PROMPT_VERSION = "nav-v1"

@cache
def template(name: str) -> str:
    return (resources.files("videonav.agent") / "prompts" / name).read_text(encoding="utf-8")


def node_line(node: Node, is_leaf: bool, limit: int = 600) -> str:
    kind = "clip" if is_leaf else "part"
    return f"[{node.id}] {clock(node.start)}-{clock(node.end)} ({kind}): {quote(node.caption, limit)}"


def options_block(options: list[str]) -> str:
    """The lettered options as the question turn shows them (empty for open questions).

    >>> print(options_block(["a dog", "a cat"]), end="")
    Options:
    A. a dog
    B. a cat
    """
    if not options:
        return ""
    return "Options:\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)) + "\n"


def first_user_message(question: str, options: list[str], duration: float, top: list[tuple[Node, bool]],
                       limit: int = 600) -> str:
    return template("question.txt").format(
        question=quote(question, 400)[1:-1], options_block=options_block([quote(o, 200)[1:-1] for o in options]),
        duration=clock(duration), nodes_block="\n".join(node_line(n, leaf, limit) for n, leaf in top))


def messages_for(question: str, options: list[str], duration: float, top: list[tuple[Node, bool]],
                 limit: int = 600) -> list[dict[str, Any]]:
    """The opening conversation: system prompt + the question with the top-level captions."""
    return [{"role": "system", "content": template("system.txt").strip()},
            {"role": "user", "content": first_user_message(question, options, duration, top, limit)}]
