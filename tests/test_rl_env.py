"""The GRPO environment: the planner's tool schemas, observe()'s observations, what rewards measure."""

from __future__ import annotations

import inspect

from rl_fixtures import questions, small_tree
from transformers.utils import get_json_schema

from videonav.agent.actions import tool_schemas
from videonav.agent.config import load_config
from videonav.agent.scorer import load_default_scorer
from videonav.rl.env import OVER, EnvContext, NavigationEnv
from videonav.rl.grpo import prompt_rows, reward_stack
from videonav.rl.grpo_config import RewardWeights
from videonav.rl.rewards import GroundingReward
from videonav.tools.embed import HashingEmbedder

EMB = HashingEmbedder(dim=512)


def _env() -> tuple[NavigationEnv, dict]:
    tree = small_tree(embedder=EMB)
    cfg = load_config(overrides=["embedder.model=hashing"])
    ctx = EnvContext(cfg=cfg, embedder=EMB, tree_of=lambda v: tree, scorer=load_default_scorer(EMB))
    env = NavigationEnv(ctx)
    row = prompt_rows(questions()[:1], lambda v: tree)[0]
    return env, row


def test_tools_are_the_planner_tools() -> None:
    env, _ = _env()
    public = [n for n, _ in inspect.getmembers(NavigationEnv, predicate=inspect.isfunction)
              if not n.startswith("_") and n not in ("reset", "get_reward")]
    mine = {s["function"]["name"]: s for s in tool_schemas()}
    assert sorted(public) == sorted(mine)
    for name in public:
        assert get_json_schema(getattr(env, name)) == mine[name]


def test_episode_measures_reads_calls_and_answer() -> None:
    env, row = _env()
    assert env.reset(**row) is None  # the prompt column already holds the opening turns
    assert env.expand("1").startswith("Children of [1]:")
    assert env.expand(node_id="1").startswith("Invalid action")  # observe()'s corrective message
    assert "red ball" in env.inspect("1.3", "what does the dog chase")
    assert env.calls == 3 and env.invalid == 1
    assert (10.0, 12.0) in env.visited
    assert env.answer("A", 0.9) == "Answer recorded." and env.answer_index == 0
    assert env.expand("2") == OVER
    assert env.reads_choice == 0  # the option scorer, from what was read, picks "a red ball"
    g = GroundingReward()([""], evidence=[row["evidence"]], environments=[env])[0]
    assert g is not None and 0 < g <= 1
    env.reset(**row)  # a pooled instance starts clean
    assert env.calls == 0 and env.visited == [] and not env.done


def test_reward_stack_weights() -> None:
    funcs, weights = reward_stack(RewardWeights(grounding=0.0), with_scorer=True)
    names = [f.__name__ for f in funcs]
    assert "grounding_reward" not in names and "reads_answer_reward" in names and len(weights) == len(funcs)
