"""One YAML config loader for RunConfig and the training configs: same overrides, same messages."""

from __future__ import annotations

from pathlib import Path

import pytest

import videonav.agent
import videonav.memory
import videonav.rl
import videonav.tools
from videonav.agent.config import ConfigError, RunConfig, load_config, load_model
from videonav.rl.grpo_config import GRPORunConfig
from videonav.rl.sft_config import SFTRunConfig, load_run_config


def test_only_one_module_parses_yaml() -> None:
    users = []
    for pkg in (videonav.memory, videonav.tools, videonav.agent, videonav.rl):
        root = Path(pkg.__file__).parent
        users += [f"{root.name}/{p.relative_to(root)}" for p in root.rglob("*.py")
                  if "yaml.safe_load(" in p.read_text(encoding="utf-8")]
    assert users == ["agent/config.py"]


@pytest.mark.parametrize(("text", "message"), [
    (None, "file {p} not found"),
    ("- a list\n", "file {p} must hold a mapping of sections"),
    ("a: [unclosed\n", "file {p} is not valid YAML"),
])
def test_both_loaders_report_file_problems_alike(tmp_path: Path, text: str | None, message: str) -> None:
    p = tmp_path / "c.yaml"
    if text is not None:
        p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as run_err:
        load_config(p)
    with pytest.raises(ConfigError) as train_err:
        load_run_config(SFTRunConfig, p)
    want = message.format(p=p)
    assert str(run_err.value).startswith(f"config {want}")
    assert str(train_err.value).startswith(f"training config {want}")


def test_overrides_in_every_form_agree(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("budget: {max_rounds: 5, max_captions: 7}\n", encoding="utf-8")
    forms = [["budget.max_rounds=3"], {"budget.max_rounds": 3, "seed": None}, {"budget": {"max_rounds": 3}}]
    for over in forms:
        cfg = load_model(RunConfig, p, over)
        assert (cfg.budget.max_rounds, cfg.budget.max_captions) == (3, 7), over
    g = load_run_config(GRPORunConfig, None, {"data.limit": 5, "model.path": None})
    assert g.data.limit == 5 and g.model.path is None
    with pytest.raises(ConfigError, match=r"(?s)invalid training config.*data\.limit"):
        load_run_config(GRPORunConfig, None, {"data.limit": 0})
