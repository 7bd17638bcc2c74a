"""GRPO over the navigation environment (TRL ``GRPOTrainer`` with ``environment_factory=``).

Each dataset row is a question; its ``prompt`` is the planner's opening conversation
(:func:`videonav.agent.prompts.messages_for`: system prompt + question + top-level captions),
and TRL renders it with the tools of :class:`videonav.rl.env.NavigationEnv`, which are the
planner's tools. A rollout is the model's multi-turn tool conversation, capped at
``max_tool_calls`` turns; tool results are masked out of the loss by TRL. Rewards
(:mod:`videonav.rl.rewards`) are summed with the weights of
:class:`videonav.rl.grpo_config.RewardWeights`.

Why ``environment_factory`` and not a custom ``rollout_func``: TRL then owns generation,
tool-call parsing, masking and the per-turn length bookkeeping, and our part is only what is
specific to videonav (the environment and the rewards), which keeps the two from drifting.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.episode import opening_messages
from videonav.agent.evaluation.datasets import Question
from videonav.memory.tree import CaptionTree
from videonav.rl import rewards as R
from videonav.rl.env import EnvContext, NavigationEnv
from videonav.rl.grpo_config import GRPORunConfig, RewardWeights
from videonav.rl.sft import last_checkpoint, load_policy, lora_config, save_policy
from videonav.rl.sft_config import CPU_TRAINER_DEFAULTS


def prompt_rows(questions: Sequence[Question], tree_of: Any) -> list[dict[str, Any]]:
    """One GRPO row per question: the opening turns plus the columns rewards and ``reset`` read."""
    rows = []
    for q in questions:
        tree: CaptionTree = tree_of(q.video)
        rows.append(
            {
                "prompt": opening_messages(tree, q.question, q.options),
                "video": q.video,
                "qid": q.qid,
                "question": q.question,
                "options": list(q.options),
                "truth": int(q.truth if q.truth is not None else -1),
                "evidence": [[float(a), float(b)] for a, b in q.evidence],
            }
        )
    return rows


def to_prompt_dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset, Features, Json, List, Value

    feats = Features(
        {
            "prompt": Json(),
            "video": Value("string"),
            "qid": Value("string"),
            "question": Value("string"),
            "options": List(Value("string")),
            "truth": Value("int64"),
            "evidence": List(List(Value("float64"))),
        }
    )
    return Dataset.from_list(rows, features=feats)


def reward_stack(w: RewardWeights, with_scorer: bool) -> tuple[list[Any], list[float]]:
    """The reward callables with a non-zero weight, and their weights (GRPOConfig.reward_weights)."""
    pairs: list[tuple[Any, float]] = [
        (R.answer_reward, w.answer),
        (R.format_reward, w.format),
        (R.GroundingReward(), w.grounding),
        (R.CallCost(per_call=w.per_call), w.call_cost),
        (R.repeat_penalty, w.repeat),
    ]
    if with_scorer:
        pairs.insert(1, (R.ReadsAnswerReward(), w.reads_answer))
    pairs = [(f, x) for f, x in pairs if x > 0]
    return [f for f, _ in pairs], [x for _, x in pairs]


def train_grpo(
    cfg: GRPORunConfig,
    run_cfg: RunConfig,
    dataset: Any,
    tree_of: Any,
    embedder: Any,
    scorer: Any = None,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
    extra_args: dict[str, Any] | None = None,
) -> Path:
    """Trains with GRPO from ``cfg.model`` (e.g. the SFT output); returns the saved model dir."""
    trainer, tok = make_trainer(cfg, run_cfg, dataset, tree_of, embedder, scorer, callbacks, extra_args)
    trainer.train(resume_from_checkpoint=last_checkpoint(cfg.output) if resume else None)
    return save_policy(trainer, tok, cfg.output)


def make_trainer(cfg: GRPORunConfig, run_cfg: RunConfig, dataset: Any, tree_of: Any, embedder: Any,
                 scorer: Any = None, callbacks: Sequence[Any] = (),
                 extra_args: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(``GRPOTrainer``, the policy's tokenizer as loaded): what :func:`train_grpo` runs, with
    rollout prompts pinned to the planner's tools."""
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_policy(cfg.model)
    funcs, weights = reward_stack(cfg.rewards, scorer is not None)
    args = GRPOConfig(
        output_dir=str(cfg.output),
        max_tool_calling_iterations=cfg.max_tool_calls,
        reward_weights=weights,
        **{**CPU_TRAINER_DEFAULTS, **cfg.trainer, **(extra_args or {})},
    )
    ctx = EnvContext(cfg=run_cfg, embedder=embedder, tree_of=tree_of, scorer=scorer)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tok,
        peft_config=lora_config(cfg.model) if cfg.model.lora else None,
        environment_factory=functools.partial(NavigationEnv, ctx),
        callbacks=list(callbacks),
    )
    pin_tool_schemas(trainer)
    return trainer, tok


def pin_tool_schemas(trainer: Any) -> None:
    """Render rollout prompts with the planner's own tool schemas, in the planner's order.

    TRL lists an environment's methods alphabetically (``answer`` first), while SFT data and
    ``videonav eval`` list ``expand, inspect, search, answer``. The schemas are equal but the
    system turns differ, and a policy fine-tuned on one order, shown the other, answers at
    once instead of navigating (measured on the SFT policy: first call ``answer`` in 6 of 6
    samples with TRL's order, ``expand`` in 6 of 6 with ours; GRPO steps then saw no reads).
    TRL renders and parses with ``_env_tools`` and executes through per-rollout bound methods
    looked up by name, so replacing the schemas changes the prompt and nothing else.
    """
    from videonav.agent.actions import tool_schemas

    env_tools = getattr(trainer, "_env_tools", None)
    if not isinstance(env_tools, dict):
        raise RuntimeError("this TRL version renders environment tools differently (no GRPOTrainer._env_tools); "
                           "check rl/grpo.py:pin_tool_schemas against it")
    for name in env_tools:
        env_tools[name] = tool_schemas()
