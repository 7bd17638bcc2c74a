"""GRPO rewards: pure functions ``reward(completions, **columns) -> list[float | None]``.

TRL calls every reward with the batch's completions (for tool rollouts: the list of assistant
and tool messages each rollout produced), the dataset's other columns by name, and
``environments=`` (one :class:`videonav.rl.env.NavigationEnv` per rollout). Rewards that can be
read off the messages (answer, format, repeats) read them with the planner's own parser;
rewards that need what the environment measured (spans read, tool calls made) read the
environment's public ``visited`` / ``calls`` fields, so a stand-in object serves in doctests.
Parameterised rewards are small callable classes (picklable, unlike closures). Weights live
in :class:`videonav.rl.grpo_config.RewardWeights`, not here.

Grounding uses the *union* of visited spans (``videonav.agent.evaluation.metrics``): LongVideo-R1 sums an
overlap term per visit, so reading the same evidence twice pays twice and its grounding term
can exceed 1; on unions re-reading adds nothing and F1 stays in [0, 1]. A rollout whose
question has no human spans gets ``None`` (TRL then leaves that reward out of its sum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videonav.agent.actions import Action, ParseFailure, option_index, parse_action
from videonav.agent.evaluation.metrics import grounding_f1

Messages = list[dict[str, Any]]


def actions_of(completion: Messages | str) -> list[Action | ParseFailure]:
    """The action each assistant turn took (a plain-text completion counts as one turn).

    >>> call = {"type": "function", "function": {"name": "expand", "arguments": {"node_id": "2"}}}
    >>> msgs = [{"role": "assistant", "content": "", "tool_calls": [call]},
    ...         {"role": "tool", "content": "..."}, {"role": "assistant", "content": "hmm"}]
    >>> [type(a).__name__ for a in actions_of(msgs)]
    ['Action', 'ParseFailure']
    """
    if isinstance(completion, str):
        return [parse_action(completion)]
    out: list[Action | ParseFailure] = []
    for m in completion:
        if m.get("role") == "assistant":
            out.append(parse_action(str(m.get("content") or ""), m.get("tool_calls") or None))
    return out


def _final_answer(completion: Messages | str) -> str | None:
    answers = [a for a in actions_of(completion) if isinstance(a, Action) and a.name == "answer"]
    return answers[-1].answer if answers else None


def answer_reward(
    completions: Sequence[Messages | str], truth: Sequence[int], options: Sequence[list[str]], **_: Any
) -> list[float]:
    """1 when the last ``answer`` names the correct option (letter or text), else 0 (no answer: 0).

    >>> c = [[{"role": "assistant", "content": '<tool_call>{"name": "answer", "arguments": '
    ...        '{"answer": "B", "confidence": 0.8}}</tool_call>'}], "no idea"]
    >>> answer_reward(c, truth=[1, 0], options=[["x", "y"], ["x", "y"]])
    [1.0, 0.0]
    """
    out = []
    for comp, t, opts in zip(completions, truth, options, strict=True):
        ans = _final_answer(comp)
        out.append(1.0 if ans is not None and option_index(ans, list(opts)) == t else 0.0)
    return out


def format_reward(completions: Sequence[Messages | str], **_: Any) -> list[float]:
    """Share of assistant turns that are one readable action; 0 for a rollout with no turn.

    Turns after the first ``answer`` do not count: the episode is over (TRL still executes the
    answer tool and lets the model speak once more, whatever it says changes nothing).

    >>> ok = {"role": "assistant", "content": "", "tool_calls": [
    ...     {"type": "function", "function": {"name": "search", "arguments": {"query": "dog"}}}]}
    >>> bad = {"role": "assistant", "content": "??"}
    >>> fin = {"role": "assistant", "content": "", "tool_calls": [
    ...     {"type": "function", "function": {"name": "answer", "arguments": {"answer": "A", "confidence": 1}}}]}
    >>> format_reward([[ok, {"role": "tool", "content": "r"}, bad], [ok], [], [ok, fin, bad]])
    [0.5, 1.0, 0.0, 1.0]
    """
    out = []
    for comp in completions:
        acts = actions_of(comp)
        ends = [i for i, a in enumerate(acts) if isinstance(a, Action) and a.name == "answer"]
        if ends:
            acts = acts[: ends[0] + 1]
        out.append(sum(isinstance(a, Action) for a in acts) / len(acts) if acts else 0.0)
    return out


def repeat_penalty(completions: Sequence[Messages | str], **_: Any) -> list[float]:
    """Minus the number of actions repeated verbatim (same tool, same arguments) in a rollout.

    >>> e = {"role": "assistant", "content": '{"name": "expand", "arguments": {"node_id": "1"}}'}
    >>> repeat_penalty([[e, e, e], [e]])
    [-2.0, 0.0]
    """
    out = []
    for comp in completions:
        keys = [a.model_dump_json() for a in actions_of(comp) if isinstance(a, Action)]
        out.append(float(len(set(keys)) - len(keys)))
    return out


class GroundingReward:
    """F1 between the union of spans the rollout read and the union of human evidence spans.

    >>> from types import SimpleNamespace as NS
    >>> envs = [NS(visited=[(0, 10), (2, 5)]), NS(visited=[(20, 30)]), NS(visited=[(0, 1)])]
    >>> GroundingReward()(["", "", ""], evidence=[[(4, 12)], [(0, 5)], []], environments=envs)
    [0.6667, 0.0, None]
    """

    __name__ = "grounding_reward"

    def __call__(
        self,
        completions: Sequence[Any],
        evidence: Sequence[Any] | None = None,
        environments: Sequence[Any] | None = None,
        **_: Any,
    ) -> list[float | None]:
        if evidence is None or environments is None:
            return [None] * len(completions)
        out: list[float | None] = []
        for ev, env in zip(evidence, environments, strict=True):
            spans = [(float(a), float(b)) for a, b in (ev or [])]
            out.append(round(grounding_f1(env.visited, spans), 4) if spans else None)
        return out


class CallCost:
    """``-per_call`` per tool call the rollout made (``answer`` is free), capped at ``-cap``.

    >>> from types import SimpleNamespace as NS
    >>> CallCost(per_call=0.1, cap=0.25)(["", ""], environments=[NS(calls=2), NS(calls=5)])
    [-0.2, -0.25]
    """

    def __init__(self, per_call: float = 0.05, cap: float = 1.0) -> None:
        self.per_call = per_call
        self.cap = cap
        self.__name__ = "call_cost"

    def __call__(
        self, completions: Sequence[Any], environments: Sequence[Any] | None = None, **_: Any
    ) -> list[float]:
        if environments is None:
            return [0.0] * len(completions)
        return [round(-min(self.cap, self.per_call * env.calls), 6) for env in environments]


class ReadsAnswerReward:
    """1 when the option scorer, given only what the rollout read, picks the right option.

    This is how ``videonav eval`` answers (``planner.answer_mode=scorer``): the policy is
    rewarded for *reading the right captions*, whatever letter it typed. The environment
    computes ``reads_choice`` (None without a scorer, which scores 0 here).

    >>> from types import SimpleNamespace as NS
    >>> ReadsAnswerReward()(["", ""], truth=[2, 2], environments=[NS(reads_choice=2), NS(reads_choice=None)])
    [1.0, 0.0]
    """

    __name__ = "reads_answer_reward"

    def __call__(
        self,
        completions: Sequence[Any],
        truth: Sequence[int],
        environments: Sequence[Any] | None = None,
        **_: Any,
    ) -> list[float]:
        if environments is None:
            return [0.0] * len(completions)
        return [
            1.0 if env.reads_choice is not None and env.reads_choice == t else 0.0
            for env, t in zip(environments, truth, strict=True)
        ]
