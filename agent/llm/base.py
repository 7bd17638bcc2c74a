"""The planner-LLM interface, its registry and the scripted backend used by tests.

``chat(messages, tools)`` returns text (and native tool calls where the server parses them);
``score(messages, continuations)`` returns the summed log-probability of each continuation
after the assistant prompt, for constrained decoding (score the legal actions instead of
generating) and option scoring. Backends that expose no token probabilities raise
``NotImplementedError`` from ``score`` and the planner falls back to free generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field


class ChatReply(BaseModel):
    text: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, description="[{name, arguments}] if parsed natively")
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLM(Protocol):
    name: str
    model_id: str

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply: ...

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None) -> list[float]: ...


class ScriptedLLM:
    """Replies from a list (or a function of the messages): drives whole loops in tests."""

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


LLMFactory = Callable[[Any], LLM]
_REGISTRY: dict[str, LLMFactory] = {}
_BUILTIN_MODULES = {
    "transformers": "videonav.agent.llm.transformers",
    "openai": "videonav.agent.llm.openai",
    "vllm": "videonav.agent.llm.vllm",
}


def register_llm(name: str) -> Callable[[LLMFactory], LLMFactory]:
    def deco(factory: LLMFactory) -> LLMFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"planner backend {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory
    return deco


register_llm("scripted")(lambda cfg: ScriptedLLM())


def make_llm(cfg: Any) -> LLM:
    """Build ``cfg.backend`` (a :class:`videonav.agent.config.PlannerConfig`)."""
    import importlib

    if cfg.backend not in _REGISTRY and cfg.backend in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[cfg.backend])
    if cfg.backend not in _REGISTRY:
        raise ValueError(f"planner.backend={cfg.backend!r} unknown; choose one of "
                         f"{sorted(set(_REGISTRY) | set(_BUILTIN_MODULES))}")
    return _REGISTRY[cfg.backend](cfg)
