"""The tool-calling chat template: snapshot of a rendered conversation, and TRL byte-equality."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from videonav.agent.llm import chat_template as ct

TOOLS = [{"type": "function", "function": {
    "name": "expand", "description": "Show the captions of a node's children.",
    "parameters": {"type": "object", "properties": {"node_id": {"type": "string", "description": "node id"}},
                   "required": ["node_id"]}}}]
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You navigate a caption tree."},
    {"role": "user", "content": "Why does the dog run? « café »"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "expand", "arguments": '{"node_id": "2"}'}}]},
    {"role": "tool", "name": "expand", "content": "2.1 [0:10-0:20] a ball is thrown"},
]
SNAPSHOT = """<|im_start|>system
You navigate a caption tree.

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"type": "function", "function": {"name": "expand", "description": "Show the captions of a node's \
children.", "parameters": {"type": "object", "properties": {"node_id": {"type": "string", "description": \
"node id"}}, "required": ["node_id"]}}}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> \
XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Why does the dog run? « café »<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "expand", "arguments": {"node_id": "2"}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
2.1 [0:10-0:20] a ball is thrown
</tool_response><|im_end|>
<|im_start|>assistant
"""


def test_rendered_conversation_snapshot() -> None:
    assert ct.render(None, MESSAGES, TOOLS) == SNAPSHOT
    assert MESSAGES[2]["content"] is None  # the caller's messages are not modified


def test_without_tools_and_generation_prompt() -> None:
    text = ct.render(None, MESSAGES[:2], None, add_generation_prompt=False)
    assert text == ("<|im_start|>system\nYou navigate a caption tree.<|im_end|>\n"
                    "<|im_start|>user\nWhy does the dog run? « café »<|im_end|>\n")


def test_packaged_copy_is_trls_file_byte_for_byte() -> None:
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("trl not installed")
    trl_file = Path(next(iter(spec.submodule_search_locations))) / "chat_templates" / "qwen2_5.jinja"
    assert ct.packaged_template().encode() == trl_file.read_bytes()
    assert ct.tool_chat_template() == trl_file.read_text(encoding="utf-8")


@pytest.mark.slow  # importing trl takes ~20 s
def test_trl_recognises_the_template() -> None:
    """TRL's tool-calling code accepts a tokenizer carrying our template (and rejects others)."""
    ctu = pytest.importorskip("trl.chat_template_utils")
    assert ct.tool_chat_template() == ctu.qwen2_5_chat_template


def test_falls_back_to_packaged_copy_without_trl(monkeypatch: pytest.MonkeyPatch) -> None:
    ct.trl_template_path.cache_clear()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "trl" else real(name, *a))
    try:
        assert ct.tool_chat_template() == ct.packaged_template()
    finally:
        ct.trl_template_path.cache_clear()


def test_tokenizer_without_im_tokens_is_rejected() -> None:
    class Tok:
        def get_vocab(self) -> dict[str, int]:
            return {"<s>": 0}

    with pytest.raises(ValueError, match="planner.chat_template=model"):
        ct.tool_chat_template(Tok())


def test_parse_tool_calls_is_lenient() -> None:
    text = ('<tool_call>\n{"name": "expand", "arguments": {"node_id": "1"}}\n</tool_call>\n'
            "<tool_call>\nnot json\n</tool_call>\n"
            '<tool_call>\n{"name": "search", "arguments": "{\\"query\\": \\"dog\\"}"}')
    assert ct.parse_tool_calls(text) == [{"name": "expand", "arguments": {"node_id": "1"}},
                                         {"name": "search", "arguments": {"query": "dog"}}]
    assert ct.parse_tool_calls("no calls here") == []


class _Tok:
    def __init__(self, vocab: dict[str, int], template: str | None) -> None:
        self._vocab, self.chat_template = vocab, template

    def get_vocab(self) -> dict[str, int]:
        return self._vocab


IM = {"<|im_start|>": 1, "<|im_end|>": 2}


@pytest.mark.parametrize(("vocab", "own", "mode", "want"), [
    (IM, "{{ messages }}", "auto", "qwen2_5"),               # SmolLM2: own template ignores tools
    (IM, "{% if tools %}{{ tools }}{% endif %}", "auto", "own"),  # Qwen: own template renders tools
    ({"<s>": 0}, "{{ messages }}", "auto", "own"),            # no im tokens: keep its own
    (IM, None, "auto", "qwen2_5"),
    (IM, "{{ messages }}", "model", "own"),
    (IM, "{% if tools %}{% endif %}", "qwen2_5", "qwen2_5"),
])
def test_pick_chat_template(vocab: dict[str, int], own: str | None, mode: str, want: str) -> None:
    got = ct.pick_chat_template(_Tok(vocab, own), mode)
    assert got == (own if want == "own" else ct.tool_chat_template())


def test_pick_chat_template_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="planner.chat_template=qwen2_5"):
        ct.pick_chat_template(_Tok(IM, None), "model")
    with pytest.raises(ValueError, match="planner.chat_template"):
        ct.pick_chat_template(_Tok(IM, None), "chatml")
