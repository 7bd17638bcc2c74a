"""The tool-calling chat template the planner and the trainers share.

SmolLM2's own template has no tool support, and TRL's GRPO/SFT tool-calling only recognises chat
templates it ships (it compares ``tokenizer.chat_template`` byte for byte against its own copies).
TRL's ``chat_templates/qwen2_5.jinja`` uses SmolLM2's special tokens (``<|im_start|>``,
``<|im_end|>``), so it renders tools and tool calls for SmolLM2 without new tokens, and training,
inference and the action parser then agree on one format::

    <tool_call>
    {"name": "expand", "arguments": {"node": "2.3"}}
    </tool_call>

The text comes from the installed ``trl`` package when there is one (so TRL recognises it even
if a future TRL revises the file), else from our packaged copy, ``prompts/qwen2_5_tools.jinja``,
a byte-identical copy of TRL 1.16's file (a test checks the two agree).

Attribution: the template is the Qwen2.5 chat template by the Qwen team (Alibaba Cloud) as stored
in TRL, https://github.com/huggingface/trl, ``trl/chat_templates/qwen2_5.jinja``; both are
licensed under the Apache License 2.0. The attribution lives here, not in the .jinja file, because
a comment there would break the byte equality TRL relies on.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "qwen2_5_tools.jinja"
TRL_TEMPLATE = "qwen2_5.jinja"
#: Special tokens the template writes; a tokenizer without them would split them into pieces.
REQUIRED_TOKENS = ("<|im_start|>", "<|im_end|>")


@functools.cache
def packaged_template() -> str:
    """Our own copy (used when TRL is not installed)."""
    return (resources.files("videonav.agent") / "prompts" / TEMPLATE_FILE).read_text(encoding="utf-8")


@functools.cache
def trl_template_path() -> Path | None:
    """TRL's file, found without importing ``trl`` (importing it costs seconds and pulls in datasets)."""
    try:
        spec = importlib.util.find_spec("trl")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "chat_templates" / TRL_TEMPLATE
        if path.is_file():
            return path
    return None


def tool_chat_template(tokenizer: Any | None = None) -> str:
    """The qwen2_5 tool-calling template text, TRL's byte for byte when TRL is installed.

    Given a tokenizer, checks that it knows the template's special tokens: without them the
    markers would be split into ordinary sub-words and the model would never have seen them.
    """
    if tokenizer is not None:
        vocab = tokenizer.get_vocab()
        missing = [t for t in REQUIRED_TOKENS if t not in vocab]
        if missing:
            raise ValueError(f"the qwen2_5 tool template needs the tokens {missing} that this tokenizer "
                             "lacks; set planner.chat_template=model to use the model's own template")
    path = trl_template_path()
    return path.read_text(encoding="utf-8") if path is not None else packaged_template()


def pick_chat_template(tokenizer: Any, mode: str = "auto") -> str:
    """The template text for ``planner.chat_template`` (``auto`` / ``qwen2_5`` / ``model``).

    ``auto`` keeps a model's own template when it renders tools (Qwen, Llama 3, ...), and uses
    qwen2_5 when the tokenizer has its ``<|im_start|>``/``<|im_end|>`` tokens (SmolLM2, whose own
    template ignores tools). Raises ValueError naming the setting when the choice cannot work.
    """
    own = getattr(tokenizer, "chat_template", None)
    if mode == "auto":
        vocab = tokenizer.get_vocab()
        has_im = all(t in vocab for t in REQUIRED_TOKENS)
        mode = "model" if own and ("tools" in own or not has_im) else "qwen2_5"
    if mode == "model":
        if not own:
            raise ValueError("the model has no chat template of its own; set planner.chat_template=qwen2_5")
        return str(own)
    if mode != "qwen2_5":
        raise ValueError(f"planner.chat_template={mode!r}: choose auto, qwen2_5 or model")
    return tool_chat_template(tokenizer)


def normalise_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies messages into the shape the template expects, without touching the caller's list.

    OpenAI-style tool calls carry ``arguments`` as a JSON string; the template ``tojson``-s them,
    which would double-encode, so they are parsed into dicts. ``content=None`` (an assistant turn
    that only calls tools) becomes ``""`` so that user/system turns never concatenate ``None``.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        m = copy.deepcopy(dict(m))
        if m.get("content") is None:
            m["content"] = ""
        calls = m.get("tool_calls")
        if calls:
            fixed = []
            for call in calls:
                call = dict(call)
                if isinstance(call.get("function"), dict):
                    fn = call["function"] = dict(call["function"])
                else:
                    fn = call
                args = fn.get("arguments")
                if isinstance(args, str):
                    try:
                        fn["arguments"] = json.loads(args) if args.strip() else {}
                    except json.JSONDecodeError:
                        pass  # left as the model wrote it: rendering shows what it produced
                fixed.append(call)
            m["tool_calls"] = fixed
        out.append(m)
    return out


def render(tokenizer: Any | None, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
           add_generation_prompt: bool = True, chat_template: str | None = None) -> str:
    """Renders a conversation to the prompt text, the same way TRL and ``apply_chat_template`` do.

    ``chat_template=None`` means the qwen2_5 tool template. ``tokenizer=None`` renders with
    transformers' jinja environment directly (same filters), handy for snapshot tests.
    """
    template = chat_template if chat_template is not None else tool_chat_template(tokenizer)
    msgs = normalise_messages(messages)
    if tokenizer is not None:
        text = tokenizer.apply_chat_template(msgs, tools=tools or None, chat_template=template,
                                             tokenize=False, add_generation_prompt=add_generation_prompt)
        return str(text)
    from transformers.utils.chat_template_utils import render_jinja_template

    out: Any = render_jinja_template(conversations=[msgs], tools=tools or None,  # type: ignore[arg-type]
                                     chat_template=template, add_generation_prompt=add_generation_prompt)
    return str(out[0][0])


_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def parse_tool_calls(text: str) -> list[dict[str, Any]]:
    """``[{name, arguments}]`` from the template's ``<tool_call>`` blocks; malformed blocks are skipped.

    Lenient on purpose (a missing closing tag at the token limit still parses); the planner's own
    parser (``videonav.agent.actions``) decides what a malformed reply means.

    >>> parse_tool_calls('<tool_call>\\n{"name": "expand", "arguments": {"node_id": "2"}}\\n</tool_call>')
    [{'name': 'expand', 'arguments': {'node_id': '2'}}]
    """
    calls: list[dict[str, Any]] = []
    for body in _TOOL_CALL.findall(text):
        try:
            obj = json.loads(body)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args = obj.get("arguments", obj.get("parameters", {}))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    continue
            calls.append({"name": obj["name"], "arguments": args if isinstance(args, dict) else {}})
    return calls
