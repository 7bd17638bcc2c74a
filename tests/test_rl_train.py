"""SFT and GRPO end to end on a tiny random llama (default run), and on real SmolLM2 (``slow``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from rl_fixtures import questions, small_tree, tiny_llama

from videonav.agent.config import load_config
from videonav.agent.scorer import load_default_scorer
from videonav.rl import cli as cmd_train
from videonav.rl.grpo import prompt_rows, to_prompt_dataset, train_grpo
from videonav.rl.grpo_config import GRPORunConfig
from videonav.rl.sft import last_checkpoint, train_sft
from videonav.rl.sft_config import ModelSection, SFTRunConfig, load_run_config
from videonav.rl.trajectories import OracleTeacher, build_rows, to_dataset
from videonav.tools.embed import HashingEmbedder

EMB = HashingEmbedder(dim=512)
CFG = load_config(overrides=["embedder.model=hashing"])
QUIET = {"disable_tqdm": True, "save_steps": 1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


def _sft(model: str | None, out: Path, steps: int = 1, lora: bool = False) -> Path:
    tree = small_tree(embedder=EMB)
    rows = build_rows(questions(), lambda v: tree, OracleTeacher(CFG, EMB))
    cfg = SFTRunConfig(model=ModelSection(path=model, lora=lora, lora_r=4), output=out, max_length=1536,
                       trainer={"max_steps": steps, "per_device_train_batch_size": 2, **QUIET})
    return train_sft(cfg, to_dataset(rows))


def test_sft_then_grpo_tiny_llama(tiny: Path, tmp_path: Path) -> None:
    sft_dir = _sft(str(tiny), tmp_path / "sft")
    assert (sft_dir / "config.json").is_file() and last_checkpoint(tmp_path / "sft") is not None
    tok_cfg = json.loads((sft_dir / "tokenizer_config.json").read_text())
    template = tok_cfg.get("chat_template") or (sft_dir / "chat_template.jinja").read_text()
    assert "<tool_call>" in template  # the saved policy renders tool calls like training did

    tree = small_tree(embedder=EMB)
    ds = to_prompt_dataset(prompt_rows(questions(), lambda v: tree))
    gcfg = GRPORunConfig(model=ModelSection(path=str(sft_dir)), output=tmp_path / "grpo", max_tool_calls=2,
                         trainer={"max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 2,
                                  "max_completion_length": 24, **QUIET})
    grpo_dir = train_grpo(gcfg, CFG, ds, lambda v: tree, EMB, scorer=load_default_scorer(EMB))
    assert (grpo_dir / "model.safetensors").is_file()


def test_sft_lora_merges_and_resumes(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "lora"
    model_dir = _sft(str(tiny), out, steps=1, lora=True)
    assert not (model_dir / "adapter_config.json").exists()  # merged: a plain model the planner loads
    assert last_checkpoint(out) is not None


def test_train_cli_arguments_and_config_errors(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    cmd_train.add_arguments(p)
    a = p.parse_args(["grpo", "--config", "x.yaml", "--limit", "3", "--resume", "--max-steps", "2"])
    assert (a.kind, a.limit, a.resume, a.max_steps) == ("grpo", 3, True, 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: {output_dir: nope}\n")
    from videonav.agent.config import ConfigError

    with pytest.raises(ConfigError, match="output_dir"):
        load_run_config(SFTRunConfig, bad)
    cfg = load_run_config(GRPORunConfig, None, {"data.limit": 5, "output": str(tmp_path)})
    assert cfg.data.limit == 5 and cfg.trainer["num_generations"] == 4


@pytest.mark.slow
def test_real_smollm2_few_steps(tmp_path: Path) -> None:
    """A few real SmolLM2-135M steps: SFT (2) then GRPO (1) from the SFT weights."""
    sft_dir = _sft(None, tmp_path / "sft", steps=2)
    tree = small_tree(embedder=EMB)
    ds = to_prompt_dataset(prompt_rows(questions(), lambda v: tree))
    gcfg = GRPORunConfig(model=ModelSection(path=str(sft_dir)), output=tmp_path / "grpo", max_tool_calls=2,
                         trainer={"max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 2,
                                  "max_completion_length": 48, **QUIET})
    assert (train_grpo(gcfg, CFG, ds, lambda v: tree, EMB, scorer=load_default_scorer(EMB))
            / "model.safetensors").is_file()


def test_trained_tool_calls_parse_back_in_grpo_rollouts(tiny: Path) -> None:
    """Every action SFT teaches, rendered by the training template, is the tool call TRL's rollout
    parser (``add_response_schema`` + ``parse_response``, what GRPOTrainer runs) reads back: a
    policy that imitates its trajectories gets its calls executed and rewarded, never dropped as text."""
    from trl.chat_template_utils import add_response_schema, parse_response

    from videonav.rl.sft import load_policy

    _, tok = load_policy(ModelSection(path=str(tiny)))
    tok = add_response_schema(tok)
    tree = small_tree(embedder=EMB)
    rows = build_rows(questions(), lambda v: tree, OracleTeacher(CFG, EMB, reasoning=False))
    tools = json.loads(rows[0]["tools"])
    seen = set()
    for row in rows:
        msgs = row["messages"]
        for i, m in enumerate(msgs):
            if m["role"] != "assistant":
                continue
            prompt = tok.apply_chat_template(msgs[:i], tools=tools, add_generation_prompt=True, tokenize=False)
            full = tok.apply_chat_template(msgs[: i + 1], tools=tools, tokenize=False)
            assert full.startswith(prompt)
            parsed = parse_response(tok, tok(full[len(prompt):])["input_ids"], prefix=tok(prompt)["input_ids"],
                                    tools=tools)
            want = m["tool_calls"][0]["function"]
            got = parsed["tool_calls"][0]["function"]
            assert got["name"] == want["name"]
            assert {k: str(v) for k, v in got["arguments"].items()} == {k: str(v) for k, v in want["arguments"].items()}
            seen.add(want["name"])
    assert {"expand", "inspect", "answer"} <= seen


def test_grpo_rollout_prompts_are_the_planners_prompts(tiny: Path, tmp_path: Path) -> None:
    """TRL would list the environment's tools alphabetically; rollouts must see exactly the
    prompt SFT trained on and ``videonav eval`` shows (tools in the planner's order)."""
    from videonav.agent.actions import tool_schemas
    from videonav.rl.grpo import make_trainer

    tree = small_tree(embedder=EMB)
    rows = prompt_rows(questions(), lambda v: tree)
    gcfg = GRPORunConfig(model=ModelSection(path=str(tiny)), output=tmp_path / "g", max_tool_calls=2,
                         trainer={"max_steps": 1, "num_generations": 2, "per_device_train_batch_size": 2,
                                  "max_completion_length": 16, **QUIET})
    trainer, tok = make_trainer(gcfg, CFG, to_prompt_dataset(rows), lambda v: tree, EMB)
    trainer._batch_environments = [None]  # what a batch of one default-environment row sets
    got = trainer._tokenize_prompts([rows[0]["prompt"]])[0][0]
    want = tok.apply_chat_template(rows[0]["prompt"], tools=tool_schemas(), add_generation_prompt=True,
                                   tokenize=True, return_dict=True)["input_ids"]
    assert list(got) == list(want)
    assert [t["function"]["name"] for t in tool_schemas()][0] == "expand"  # not TRL's alphabetical "answer"
