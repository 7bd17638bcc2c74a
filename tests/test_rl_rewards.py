"""Rewards: doctests, plus the properties GRPO relies on (bounded grounding, no reward for re-reading)."""

from __future__ import annotations

import doctest
import pickle
from types import SimpleNamespace as NS

import videonav.rl.rewards as R


def test_doctests() -> None:
    res = doctest.testmod(R)
    assert res.attempted >= 6 and res.failed == 0


def test_grounding_is_on_unions_and_bounded() -> None:
    ev = [[(4.0, 8.0)]]
    once = R.GroundingReward()([""], evidence=ev, environments=[NS(visited=[(4.0, 8.0)])])
    twice = R.GroundingReward()([""], evidence=ev, environments=[NS(visited=[(4.0, 8.0)] * 5)])
    assert once == twice == [1.0]  # re-reading the evidence earns nothing more (LongVideo-R1 would pay 5x)


def test_parameterised_rewards_pickle() -> None:
    for f in (R.GroundingReward(), R.CallCost(per_call=0.1), R.ReadsAnswerReward()):
        g = pickle.loads(pickle.dumps(f))
        assert g.__name__ == f.__name__


def test_answer_reward_reads_native_tool_calls_and_text() -> None:
    call = {"type": "function", "function": {"name": "answer", "arguments": {"answer": "C", "confidence": 1}}}
    native = [{"role": "assistant", "content": "", "tool_calls": [call]}]
    text = [{"role": "assistant", "content": "<answer>y</answer>"}]
    assert R.answer_reward([native, text], truth=[2, 1], options=[["a", "b", "c"], ["x", "y"]]) == [1.0, 1.0]
