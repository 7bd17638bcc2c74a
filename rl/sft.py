"""Supervised fine-tuning of the planner on teacher trajectories (TRL ``SFTTrainer``).

Why these choices:
- The loss covers assistant turns only (``assistant_only_loss=True``): the policy should learn
  which action to take, not to reproduce captions it was shown. TRL needs ``{% generation %}``
  markers for that and swaps in its ``qwen2_5_training`` template by itself, which is why the
  tokenizer must carry TRL's qwen2_5 template (byte for byte; :mod:`videonav.agent.llm.chat_template`).
- The base model is the fp32 copy of SmolLM2's GGUF that the transformers backend caches once
  (:func:`videonav.agent.llm.transformers.gguf_fp32_copy`), never a second dequantisation.
- What is saved under ``<output>/model`` is a plain causal LM whose tokenizer carries that
  template, so ``videonav eval --policy <output>/model`` (``planner.model=...``, template
  ``auto`` = the tokenizer's) renders prompts exactly as training did. LoRA adapters are merged
  before saving for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videonav.rl.sft_config import CPU_TRAINER_DEFAULTS, ModelSection, SFTRunConfig

MODEL_DIR = "model"


def load_policy(section: ModelSection) -> tuple[Any, Any]:
    """(model, tokenizer) in fp32 with TRL's qwen2_5 tool template set on the tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from videonav.agent.llm.chat_template import tool_chat_template
    from videonav.agent.llm.transformers import default_cache_root, gguf_fp32_copy, resolve_source
    from videonav.tools.embed import BackendUnavailable

    path = section.path
    if path is None:
        src = resolve_source(None, None)
        cached = gguf_fp32_copy(src, default_cache_root())
        if cached is None:
            raise BackendUnavailable(
                "cannot write the fp32 SmolLM2 copy under ~/.cache/videonav/models; "
                "set model.path to a local model directory"
            )
        path = str(cached)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    tok.chat_template = tool_chat_template(tok)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def lora_config(section: ModelSection) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=section.lora_r,
        lora_alpha=section.lora_alpha,
        target_modules=list(section.lora_targets),
        task_type="CAUSAL_LM",
    )


def last_checkpoint(output: Path) -> str | None:
    """The newest ``checkpoint-N`` under ``output`` (what ``--resume`` continues from)."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output)) if Path(output).is_dir() else None


def save_policy(trainer: Any, tokenizer: Any, output: Path) -> Path:
    """Saves a plain (merged) causal LM + tokenizer under ``output/model`` and returns that dir."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # peft
        model = model.merge_and_unload()
    dest = Path(output) / MODEL_DIR
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def train_sft(
    cfg: SFTRunConfig,
    dataset: Any,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
    extra_args: dict[str, Any] | None = None,
) -> Path:
    """Fine-tunes on ``dataset`` (:func:`videonav.rl.trajectories.to_dataset` rows); returns the model dir."""
    from trl import SFTConfig, SFTTrainer

    model, tok = load_policy(cfg.model)
    args = SFTConfig(
        output_dir=str(cfg.output),
        max_length=cfg.max_length,
        assistant_only_loss=True,
        **{**CPU_TRAINER_DEFAULTS, **cfg.trainer, **(extra_args or {})},
    )
    keep = [c for c in dataset.column_names if c in ("messages", "tools")]
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset.select_columns(keep),
        processing_class=tok,
        peft_config=lora_config(cfg.model) if cfg.model.lora else None,
        callbacks=list(callbacks),
    )
    trainer.train(resume_from_checkpoint=last_checkpoint(cfg.output) if resume else None)
    return save_policy(trainer, tok, cfg.output)
