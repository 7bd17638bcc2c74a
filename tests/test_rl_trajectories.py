"""Trajectories are what inference sees: every assistant turn parses, every tool turn is observe()'s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rl_fixtures import questions, small_tree
from scripted import ScriptedLLM

from videonav.agent.actions import Action, parse_action
from videonav.agent.config import load_config
from videonav.agent.episode import Episode
from videonav.agent.observe import observe
from videonav.agent.prompts import messages_for
from videonav.memory.tree import ROOT
from videonav.rl.data import DataPaths, load_split
from videonav.rl.trajectories import (
    LLMTeacher,
    OracleTeacher,
    ReadsTeacher,
    build_rows,
    hint_for,
    target_leaf,
    to_dataset,
)
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder(dim=512)
CFG = load_config(overrides=["embedder.model=hashing"])


def _replay(tree, q, messages):  # noqa: ANN001, ANN202
    """Re-run the assistant turns through observe(); returns the tool contents it produces."""
    src = TextTreeSource(tree, EMB, CFG.planner.inspect_lines)
    ep = Episode.start(src, q.question, q.options, CFG)
    out = []
    for m in messages:
        if m["role"] == "assistant":
            act = parse_action(m["content"], m.get("tool_calls"))
            assert isinstance(act, Action), m
            if act.name != "answer":
                obs, reads, _ = observe(act, ep, src, CFG, EMB)
                ep.cost.captions_read += len(reads)
                out.append(obs)
    return out


@pytest.mark.parametrize("reasoning", [False, True])
def test_oracle_trajectories_are_valid(reasoning: bool) -> None:
    tree = small_tree(embedder=EMB)
    qs = questions()
    rows = build_rows(qs, lambda v: tree, OracleTeacher(CFG, EMB, reasoning=reasoning))
    assert len(rows) == len(qs)
    for row, q in zip(rows, qs, strict=True):
        msgs = row["messages"]
        top = [(tree.node(c.id), tree.is_leaf(c.id)) for c in tree.children(ROOT)]
        assert msgs[:2] == messages_for(q.question, q.options, tree.duration, top)  # the planner's opening
        assert [m["content"] for m in msgs if m["role"] == "tool"] == _replay(tree, q, msgs)
        last = parse_action(msgs[-1]["content"], msgs[-1]["tool_calls"])
        assert isinstance(last, Action) and last.name == "answer" and last.answer == "ABCDE"[q.truth]
        assert json.loads(row["tools"])[0]["function"]["name"] == "expand"
    ds = to_dataset(rows)
    # Json column: each call keeps only its own arguments (an Arrow struct would add nulls)
    assert ds[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"node_id": "1"}


def test_oracle_target_prefers_evidence_and_correct_option() -> None:
    tree = small_tree(embedder=EMB)
    q_dog, q_milk, _ = questions()
    assert target_leaf(tree, q_dog, EMB) == "1.3"  # 8-12 s holds "chases a red ball"
    assert target_leaf(tree, q_milk, EMB) == "1.2"  # 4-8 s: "takes out a carton of milk"


def test_llm_teacher_hint_guided_rejection() -> None:
    """Wrong first (no hint) -> retried with a hint naming the subtree -> kept, hint stripped."""
    tree = small_tree(embedder=EMB)
    q = questions()[0]
    hints: list[str] = []

    def call(name: str, args: str) -> str:
        return f'<tool_call>{{"name": "{name}", "arguments": {args}}}</tool_call>'

    def reply(messages: list[dict]) -> str:
        user = messages[1]["content"]
        if "Hint:" not in user:
            return call("answer", '{"answer": "B", "confidence": 0.9}')
        hints.append(user.rsplit("Hint:", 1)[1])
        if messages[-1]["role"] == "user":
            return call("expand", '{"node_id": "1"}')
        return call("answer", '{"answer": "A", "confidence": 0.9}')

    teacher = LLMTeacher(CFG, ScriptedLLM(reply), EMB, max_attempts=3)
    traj = teacher.run(tree, q)
    assert traj is not None and traj.attempts == 2 and traj.correct
    assert "[1]" in hints[0] and "Hint" not in traj.messages[1]["content"]
    assert hint_for(tree, "1.3", 1) == "Hint: the evidence is inside [1.3]. Look there before answering."
    never = LLMTeacher(CFG, ScriptedLLM(lambda m: "no idea"), EMB, max_attempts=2)
    assert never.run(tree, q) is None


def test_split_loader_uses_the_one_split() -> None:
    paths = DataPaths(questions=Path("../shared/data/nextqa/val.csv"),
                      captions=Path("../shared/data/nextqa/captions_1fps.zip"),
                      spans=Path("../shared/data/nextgqa/gsub_val.json"))
    if paths.missing():
        pytest.skip("../shared data absent")
    from videonav.memory.split import split_of

    train = load_split(paths, "train", limit=50, seed=0)
    dev = load_split(paths, "dev", limit=50, seed=0)
    assert {split_of(q.video) for q in train} == {"train"} and {split_of(q.video) for q in dev} == {"dev"}
    assert [q.qid for q in load_split(paths, "train", limit=50, seed=0)] == [q.qid for q in train]
    assert any(q.evidence for q in load_split(paths, "dev", limit=300, seed=0))  # NExT-GQA spans attached


def test_reads_teacher_takes_helpful_legal_actions_and_keeps_only_right_episodes() -> None:
    """The scorer-aware teacher replays through observe(), stays within the caption budget,
    keeps an episode only when the option scorer ends on the truth, and answers only last."""
    import numpy as np

    from videonav.agent.scorer import load_default_scorer

    tree = small_tree(embedder=EMB)
    scorer = load_default_scorer(EMB)
    teacher = ReadsTeacher(CFG, EMB, scorer)
    kept = 0
    for q in questions():
        traj = teacher.run(tree, q)
        if traj is None:
            continue
        kept += 1
        msgs = traj.messages
        assert [m["content"] for m in msgs if m["role"] == "tool"] == _replay(tree, q, msgs)
        assert len(traj.reads) <= CFG.budget.max_captions
        s = scorer.score(q.question, q.options, [r.text for r in traj.reads if r.text])
        assert int(np.argmax(s)) == q.truth
        acts = [parse_action(m["content"], m["tool_calls"]) for m in msgs if m["role"] == "assistant"]
        assert all(isinstance(a, Action) for a in acts) and acts
        assert all(a.name != "answer" for a in acts[:-1])  # answering ends the episode
    assert kept >= 1
