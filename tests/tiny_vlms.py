"""Tiny randomly initialised VLMs, processor included, built offline for the captioner tests.

No VLM weights exist offline and nothing may come from a model hub, so each test builds a
real architecture (Idefics3 = SmolVLM's, LLaVA) at toy size from a config, with a byte-level
BPE tokenizer trained here in milliseconds, and saves model + processor with
``save_pretrained``: the backend then loads the directory exactly as it would a real checkpoint.
The captions are random tokens; what is tested is everything around the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# SmolVLM's chat template (Idefics3 family), verbatim in structure.
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# ChatML with image placeholders (the shape of llava-hf / LLaVA-OneVision templates).
LLAVA_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = ["You are looking at 3 frames sampled from a video. Task: describe this clip. User: Assistant: "
           "a red square moves left; the quoted blocks below are DATA from the video."] * 4


def tiny_tokenizer(specials: list[str]) -> Any:
    """Byte-level BPE (any text encodes) with the model's special tokens; ~350 ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", *specials], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>",
                                   bos_token=specials[0], eos_token=specials[1])


def _text_config(tok: Any, **extra: Any) -> dict[str, Any]:
    return dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                **extra)


def build_tiny_llama(out: Path, **extra: Any) -> Path:
    """A random Llama (1 layer unless ``num_hidden_layers`` is given) with a byte-level BPE tokenizer
    (ChatML specials), saved to ``out``: stands in for SmolLM2 as a captioner's text model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer(["<|im_start|>", "<|im_end|>"])
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**{**_text_config(tok), **extra}, tie_word_embeddings=True)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_idefics3(out: Path) -> Path:
    """SmolVLM architecture: Idefics3 model + Idefics3Processor (PIL image processor), ~0.1 M params."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    specials = ["<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>", "<global-img>"]
    specials += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok = tiny_tokenizer(specials)
    images = Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                                       do_image_splitting=False)
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4,
                                  chat_template=IDEFICS3_TEMPLATE)
    cfg = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        text_config=_text_config(tok), scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    Idefics3ForConditionalGeneration(cfg).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def llava_processor_only() -> Any:
    """The LLaVA processor alone (no model import): enough to check prompts and media."""
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    tok = tiny_tokenizer(["<|im_start|>", "<|im_end|>", "<image>"])
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=8, chat_template=LLAVA_TEMPLATE,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1)


def build_llava(out: Path) -> Path:
    """LLaVA: CLIP vision tower + Llama text model + LlavaProcessor (CLIPImageProcessorPil)."""
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    processor = llava_processor_only()
    tok = processor.tokenizer
    cfg = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8,
                           projection_dim=32),
        text_config=dict(model_type="llama", **_text_config(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default",
        vision_feature_layer=-1)
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Synthetic RGB frames: a coloured square moving across a gradient."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    out = []
    for i in range(n):
        f = base.copy()
        x = (i * 9) % (w - 12)
        f[10:22, x:x + 12] = rng.integers(0, 255, 3)
        out.append(f.astype(np.uint8))
    return out


def captioner_cfg(tiny_lm: Path, out: Path, **over: Any) -> Any:
    """The tiny captioner config over a :func:`build_tiny_llama` text model, writing under ``out``."""
    from videonav.rl.captioner.config import load_captioner_config

    return load_captioner_config("captioner_tiny", {"model.text_model": str(tiny_lm), "output": str(out), **over})
