"""Checks on what a user asks (question, options) that run before any model is loaded.

Why first: loading the planner and embedder takes 15-35 s, and a question that cannot be
answered as asked (empty, one option, duplicate options, more options than there are letters)
should be refused at once with the fix, not answered with a meaningless confidence afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from videonav.agent.actions import LETTERS

MAX_OPTIONS = len(LETTERS)


class InputError(ValueError):
    """A question or its options cannot be asked as given."""

    user_error = True


def check_question(question: str, options: Sequence[str] | None) -> None:
    """Raise :class:`InputError` naming the problem and the fix; ``options`` ``None``/empty = free answer."""
    if not question.strip():
        raise InputError("the question is empty; pass it as text, e.g. `videonav ask VIDEO \"what is shown?\"`")
    opts = list(options or [])
    if not opts:
        return
    if len(opts) == 1:
        raise InputError(f"only one option ({opts[0]!r}) was given; pass 2 to {MAX_OPTIONS} options, "
                         "or none for a free answer")
    if len(opts) > MAX_OPTIONS:
        raise InputError(f"{len(opts)} options given; at most {MAX_OPTIONS} are supported (letters "
                         f"{LETTERS[0]}-{LETTERS[-1]}); drop some options")
    seen: dict[str, int] = {}
    for i, o in enumerate(opts, start=1):
        key = " ".join(o.split()).lower()
        if not key:
            raise InputError(f"option {i} is empty; give every option some text")
        if key in seen:
            raise InputError(f"options {seen[key]} and {i} are the same ({o.strip()!r}); give distinct options")
        seen[key] = i
