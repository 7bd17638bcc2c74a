"""The one backend registry (captioners and planner LLMs) and the LLM base class's declared defaults."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from videonav.agent.config import load_config
from videonav.agent.llm.base import LLM, LLMS, ChatReply, make_llm
from videonav.tools.captioners.base import CAPTIONERS, make_captioner
from videonav.tools.config import CaptionerConfig
from videonav.tools.registry import Registry, UnknownBackend


def test_duplicate_names_are_rejected_but_reregistering_the_same_factory_is_not() -> None:
    reg: Registry[str] = Registry("thing.backend", {})

    def a(cfg: Any) -> str:
        return "a"

    def b(cfg: Any) -> str:
        return "b"

    reg.register("x")(a)
    reg.register("x")(a)  # a module reload registers the same object again
    with pytest.raises(ValueError, match=r"thing.backend 'x' registered twice"):
        reg.register("x")(b)
    assert reg.make("x", None) == "a"


def test_unknown_name_names_the_config_key_and_every_choice() -> None:
    reg: Registry[str] = Registry("thing.backend", {"lazy": "videonav.no_such_module"})
    reg.register("here")(lambda cfg: "h")
    with pytest.raises(UnknownBackend) as e:
        reg.make("nope", None)
    assert str(e.value) == "thing.backend='nope' unknown; choose one of ['here', 'lazy']"
    assert getattr(e.value, "user_error", False) is True


def test_builtin_module_is_imported_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg: Registry[int] = Registry("thing.backend", {"late": "vn_late_backend"})
    holder = types.ModuleType("vn_registry_holder")
    holder.REG = reg  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vn_registry_holder", holder)
    (tmp_path / "vn_late_backend.py").write_text(
        "import vn_registry_holder\nvn_registry_holder.REG.register('late')(lambda cfg: 42)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "vn_late_backend" not in sys.modules and reg.names() == ["late"]
    try:
        assert reg.make("late", None) == 42
        assert "vn_late_backend" in sys.modules
    finally:
        sys.modules.pop("vn_late_backend", None)


@pytest.mark.parametrize(("make", "cfg", "key", "builtin"), [
    (make_llm, lambda: load_config(overrides=["planner.backend=nonesuch"]).planner, "planner.backend", "vllm"),
    (make_captioner, lambda: CaptionerConfig(backend="nonesuch"), "captioner.backend", "classic"),
])
def test_both_layers_use_the_registry_message(make: Any, cfg: Any, key: str, builtin: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key}='nonesuch' unknown; choose one of \[.*'{builtin}'"):
        make(cfg())


def test_registries_hold_the_builtins_lazily() -> None:
    assert {"transformers", "openai", "vllm"} <= set(LLMS.names())
    assert {"classic", "transformers", "vllm", "openai"} <= set(CAPTIONERS.names())


class _SumOnly(LLM):
    """A backend that only sums log-probs: score_mean must come from the base class."""

    name = "sum-only"

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        return ChatReply(text="")

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None) -> list[float]:
        return [-2.0 * len(c) for c in continuations]


def test_llm_base_declares_defaults() -> None:
    class ChatOnly(LLM):
        def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                 max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
            return ChatReply(text="hi")

    llm = ChatOnly()
    assert llm.last_usage is None
    with pytest.raises(NotImplementedError):
        llm.score([], ["a"])
    with pytest.raises(NotImplementedError):
        llm.score_mean([], ["a"])
    # mean = sum / (characters / 4), at least one token
    assert np.allclose(_SumOnly().score_mean([], ["x" * 40, "x"]), [-8.0, -2.0])


def test_every_builtin_backend_subclasses_the_base() -> None:
    from videonav.agent.llm.openai import OpenAILLM
    from videonav.agent.llm.transformers import TransformersLLM
    from videonav.agent.llm.vllm import VLLMBackend

    for cls in (OpenAILLM, TransformersLLM, VLLMBackend):
        assert issubclass(cls, LLM), cls
        assert cls.score_mean is not LLM.score_mean, f"{cls.__name__} knows its tokens: it averages them itself"


class _LikesAnswers(_SumOnly):
    """Sums favour the answer action; reports its token usage like the transformers backend."""

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None) -> list[float]:
        self.last_usage = (1000, 10)
        return [0.0 if '"answer"' in c else -50.0 for c in continuations]


def test_planner_scores_with_the_declared_score_mean_and_last_usage() -> None:
    """Constrained decoding through the base class's score_mean; the tokens come from last_usage."""
    from textfix import MaxCosScorer, small_tree
    from videonav.agent.planner import Planner
    from videonav.tools.embed import HashingEmbedder
    from videonav.tools.text_source import TextTreeSource

    emb = HashingEmbedder()
    cfg = load_config(overrides=["planner.prior=none", "planner.decoding=constrained", "planner.min_reads=0",
                                 "planner.confidence_threshold=1.0", "budget.max_rounds=3"])
    res = Planner(cfg, _LikesAnswers(), emb, MaxCosScorer(emb)).ask(
        TextTreeSource(small_tree(), emb, 3), "what does the dog catch", ["a frisbee", "a ball"])
    assert [s.action for s in res.trace] == ["answer"]
    assert res.cost.prompt_tokens == 1000 and res.cost.completion_tokens == 10
