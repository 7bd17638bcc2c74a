"""A scripted planner LLM: replies from a list (or a function of the messages) to drive whole loops.

It lives with the tests because nothing outside them needs it: trajectory generation drives
:class:`videonav.agent.episode.Episode` directly, and users pick a real backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from videonav.agent.llm.base import LLM, ChatReply, register_llm


class ScriptedLLM(LLM):
    """``chat`` returns the next scripted reply ('' when they run out); ``score`` uses ``scores``."""

    name = "scripted"
    model_id = "scripted"

    def __init__(self, replies: Sequence[str] | Callable[[list[dict[str, Any]]], str] = (),
                 scores: Callable[[list[dict[str, Any]], Sequence[str]], list[float]] | None = None) -> None:
        self._replies = replies
        self._i = 0
        self._scores = scores
        self.calls: list[list[dict[str, Any]]] = []

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        self.calls.append([dict(m) for m in messages])
        if callable(self._replies):
            text = self._replies(messages)
        else:
            text = self._replies[self._i] if self._i < len(self._replies) else ""
            self._i += 1
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        return ChatReply(text=text, prompt_tokens=prompt, completion_tokens=len(text.split()))

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None) -> list[float]:
        if self._scores is None:
            raise NotImplementedError("scripted LLM has no scores")
        return self._scores(messages, continuations)


register_llm("scripted")(lambda cfg: ScriptedLLM())  # `planner.backend=scripted` in tests (conftest imports this)
