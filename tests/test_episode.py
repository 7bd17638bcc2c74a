"""One Episode for evaluation, SFT trajectories and the GRPO environment: same actions, same books.

A scripted action sequence goes through the planner (scripted LLM, free decoding), the LLM
teacher of trajectory generation and the GRPO environment; all three must read the same
spans, pay the same cost and stop for the same reason. The environment must refuse exactly
what evaluation would not offer (an expand whose children overshoot the caption budget, a
search that does not fit), with the corrective observation evaluation gives.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rl_fixtures import questions, small_tree
from scripted import ScriptedLLM

from videonav.agent.actions import Action
from videonav.agent.config import load_config
from videonav.agent.episode import Episode
from videonav.agent.planner import Planner
from videonav.memory.tree import ROOT
from videonav.rl.env import EnvContext, NavigationEnv
from videonav.rl.grpo import prompt_rows
from videonav.rl.trajectories import LLMTeacher
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder(dim=512)
TREE = small_tree(embedder=EMB)  # top: [1] 0-12 s, [2] 12-24 s; each has three 4-s clips of 2 lines
Q = questions()[0]  # "what does the dog chase" (a red ball, 10-12 s)


def cfg(**over: object):  # noqa: ANN201
    sets = {"embedder.model": "hashing", "planner.decoding": "tools", "planner.prior": "none", **over}
    return load_config(overrides=[f"{k}={v}" for k, v in sets.items()])


def render(act: Action) -> str:
    return "<tool_call>" + json.dumps({"name": act.name, "arguments": act.arguments()}) + "</tool_call>"


def through_planner(acts: list[Action], c) -> tuple[list, dict, str]:  # noqa: ANN001
    llm = ScriptedLLM([render(a) for a in acts])
    res = Planner(c, llm, EMB, None).ask(TextTreeSource(TREE, EMB, c.planner.inspect_lines), Q.question, Q.options)
    return [(s.start, s.end, s.kind) for s in res.visited], _books(res.cost), res.halted_by


def through_teacher(acts: list[Action], c) -> tuple[list, dict, str]:  # noqa: ANN001
    ep, _ = LLMTeacher(c, ScriptedLLM([render(a) for a in acts]), EMB).episode(TREE, Q)
    return [(r.start, r.end, r.kind) for r in ep.reads], _books(ep.cost), ep.halted_by


def through_env(acts: list[Action], c) -> tuple[list, dict, str]:  # noqa: ANN001
    env = NavigationEnv(EnvContext(cfg=c, embedder=EMB, tree_of=lambda v: TREE))
    env.reset(**prompt_rows([Q], lambda v: TREE)[0])
    for a in acts:
        if a.name == "answer":
            env.answer(a.answer or "", a.confidence or 0.5)
        elif a.name == "search":
            env.search(a.query or "")
        elif a.name == "inspect":
            env.inspect(a.node_id or "", a.query or "")
        else:
            env.expand(a.node_id or "")
    ep = env.episode
    return [(r.start, r.end, r.kind) for r in ep.reads], _books(ep.cost), ep.halted_by


def _books(cost) -> dict:  # noqa: ANN001
    return {"rounds": cost.rounds, "tool_calls": cost.tool_calls, "invalid": cost.invalid_actions,
            "captions_read": cost.captions_read}


EXPAND_1 = Action(name="expand", node_id="1")
SCRIPTS = {
    "answered": ([EXPAND_1, Action(name="inspect", node_id="1.3", query="the dog chases"),
                  Action(name="search", query="red ball"), Action(name="answer", answer="A", confidence=0.9)], {},
                 "planner"),
    "captions": ([EXPAND_1, Action(name="expand", node_id="2")], {"budget.max_captions": 8}, "budget:captions"),
    "tool_calls": ([EXPAND_1, Action(name="inspect", node_id="1.2", query="dog")], {"budget.max_tool_calls": 2},
                   "budget:tool_calls"),
    "rounds": ([EXPAND_1, Action(name="search", query="ball"), Action(name="inspect", node_id="2", query="x")],
               {"budget.max_rounds": 3}, "budget:rounds"),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_planner_teacher_and_env_keep_the_same_books(name: str) -> None:
    acts, over, stop = SCRIPTS[name]
    c = cfg(**over)
    planner, teacher, env = through_planner(acts, c), through_teacher(acts, c), through_env(acts, c)
    assert planner == teacher == env
    reads, books, halted = planner
    assert halted == stop and books["invalid"] == 0
    assert books["rounds"] == len(acts) and len(reads) == books["captions_read"] > len(TREE.children(ROOT))


def test_env_refuses_an_expand_evaluation_would_not_offer() -> None:
    """Two captions left, [1] has three children: evaluation never offers expand [1]."""
    c = cfg(**{"budget.max_captions": 4})
    ep = Episode.start(TextTreeSource(TREE, EMB), Q.question, Q.options, c)
    assert ep.captions_left == 2 and len(TREE.children("1")) == 3
    legal = ep.legal_actions()
    assert not any(a.name == "expand" for a in legal)
    assert not any(a.name == "search" for a in legal)  # search_k=3 reads do not fit either
    assert {a.name for a in legal} == {"inspect", "answer"}
    # the GRPO environment refuses it, reads nothing and counts an invalid call
    env = NavigationEnv(EnvContext(cfg=c, embedder=EMB, tree_of=lambda v: TREE))
    env.reset(**prompt_rows([Q], lambda v: TREE)[0])
    obs = env.expand("1")
    assert obs.startswith("Invalid action: expanding [1] would read 3 captions but only 2 are left")
    assert env.search("red ball").startswith("Invalid action: a search reads 3 captions but only 2 are left")
    assert env.captions_read == 2 and env.visited == [] and env.invalid == 2
    # free decoding in evaluation gets the same corrective observation
    llm = ScriptedLLM([render(EXPAND_1)])
    res = Planner(c, llm, EMB, None).ask(TextTreeSource(TREE, EMB), Q.question, Q.options)
    assert res.trace[0].observation == obs and not res.trace[0].valid and res.cost.captions_read == 2
    # constrained decoding never even scores it, however much the LLM would like it
    seen: list[list[str]] = []

    def scores(msgs: list, conts: list[str]) -> list[float]:
        seen.append(list(conts))
        return [10.0 if '"expand"' in x or '"search"' in x else 0.0 for x in conts]

    Planner(cfg(**{"budget.max_captions": 4, "planner.decoding": "constrained"}), ScriptedLLM(scores=scores), EMB,
            None).ask(TextTreeSource(TREE, EMB), Q.question, Q.options)
    assert seen and not any('"expand"' in x or '"search"' in x for conts in seen for x in conts)


ENV_CALLS = st.lists(st.tuples(st.sampled_from(["expand", "inspect", "search", "answer"]),
                               st.sampled_from(["1", "2", "1.1", "1.3", "2.2", "9"]),
                               st.sampled_from(["dog", "red ball", "what does the dog chase"])), max_size=10)


@settings(max_examples=40, deadline=None)
@given(calls=ENV_CALLS, captions=st.integers(3, 14), tool_calls=st.integers(1, 6))
def test_env_accepts_only_legal_actions(calls: list, captions: int, tool_calls: int) -> None:
    c = cfg(**{"budget.max_captions": captions, "budget.max_tool_calls": tool_calls})
    env = NavigationEnv(EnvContext(cfg=c, embedder=EMB, tree_of=lambda v: TREE))
    env.reset(**prompt_rows([Q], lambda v: TREE)[0])
    ep = env.episode
    for name, nid, query in calls:
        legal = {(a.name, a.node_id) for a in ep.legal_actions() if a.name in ("expand", "inspect")}
        search_ok = (not ep.budget_exhausted(clock=False) and c.planner.search_k <= ep.captions_left
                     and ep.search_key(query) not in ep.searched)
        n_steps = len(ep.steps)
        getattr(env, name)(*{"expand": (nid,), "inspect": (nid, query), "search": (query,),
                             "answer": ("A", 0.9)}[name])
        if len(ep.steps) == n_steps or name == "answer":  # over: nothing recorded
            continue
        if ep.steps[-1].valid:
            assert search_ok if name == "search" else (name, nid) in legal
        assert ep.cost.captions_read <= captions
        assert ep.cost.total_tool_calls <= tool_calls
