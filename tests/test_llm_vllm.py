"""The vLLM backend: a clear error without vLLM; a real engine only where vLLM is installed."""

from __future__ import annotations

import importlib.util
import math

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
