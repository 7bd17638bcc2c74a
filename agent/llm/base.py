"""The planner-LLM base class and its registry (tests add a scripted backend: tests/scripted.py).

``chat(messages, tools)`` returns text (and native tool calls where the server parses them);
``score(messages, continuations)`` returns the summed log-probability of each continuation
after the assistant prompt, for constrained decoding (score the legal actions instead of
generating) and option scoring. Backends that expose no token probabilities keep the base
class's ``score``, which raises ``NotImplementedError``, and the planner falls back to free
generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from videonav.tools.registry import Registry


class ChatReply(BaseModel):
    text: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, description="[{name, arguments}] if parsed natively")
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLM:
    """Base class of every planner backend: the methods the planner may call, declared once.

    Subclasses must implement :meth:`chat`. Backends with token probabilities override
    :meth:`score` (and :meth:`score_mean` when they can average per real token); the defaults
    mean "cannot score" and "no usage known", so callers never probe with ``getattr``.
    """

    name: str = "llm"
    model_id: str = ""
    #: (prompt tokens, scored continuation tokens) of the last :meth:`score` call, where known.
    last_usage: tuple[int, int] | None = None

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        """One assistant turn (text, plus native tool calls where the backend parses them)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement chat")

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None) -> list[float]:
        """Summed log-probability of each continuation after the assistant prompt.

        The default raises ``NotImplementedError``: the planner then falls back to free generation."""
        raise NotImplementedError(f"{self.name} gives no token log-probabilities")

    def score_mean(self, messages: list[dict[str, Any]], continuations: Sequence[str],
                   tools: list[dict[str, Any]] | None = None) -> list[float]:
        """Per-token mean log-prob, fairer than the sum between continuations of different lengths.

        The default divides :meth:`score` by an estimate of ~4 characters per token; backends that
        know their tokens override it.

        >>> class Flat(LLM):
        ...     def score(self, messages, continuations, tools=None):
        ...         return [-1.0 * len(c) for c in continuations]
        >>> Flat().score_mean([], ["abcdefgh", "ab"])
        [-4.0, -2.0]
        """
        sums = self.score(messages, continuations, tools)
        return [s / max(1.0, len(c) / 4.0) for s, c in zip(sums, continuations, strict=True)]


LLMFactory = Callable[[Any], LLM]
LLMS: Registry[LLM] = Registry("planner.backend", {
    "transformers": "videonav.agent.llm.transformers",
    "openai": "videonav.agent.llm.openai",
    "vllm": "videonav.agent.llm.vllm",
})
register_llm = LLMS.register


def make_llm(cfg: Any) -> LLM:
    """Build ``cfg.backend`` (a :class:`videonav.agent.config.PlannerConfig`)."""
    return LLMS.make(cfg.backend, cfg)
