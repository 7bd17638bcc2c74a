"""The transformers backend's prefix KV cache and its one-pass scoring of many continuations.

Why: the planner's prompt grows by one turn per round, so keeping the keys/values of the last
prompt and running only the tokens after the longest shared prefix turns a per-round prefill of
the whole prompt into a prefill of one turn. Continuations (candidate actions, options) are then
packed as a prefix tree into ONE row after the cached prompt (see :func:`packed_logprobs`), so the
prompt is neither recomputed nor copied per candidate. Torch and transformers are imported on
first use only: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class PrefixKVCache:
    """A ``DynamicCache`` plus the token ids it holds; reused across calls while prompts share a prefix.

    Not thread-safe on its own: the owning backend holds its lock around every use.
    """

    def __init__(self) -> None:
        self.kv: Any = None  # DynamicCache holding keys/values of self.ids
        self.ids: list[int] = []

    @staticmethod
    def reusable(cache: Any) -> bool:
        """Only full-attention layers can be cropped back to an arbitrary prefix."""
        return all(type(layer).__name__ == "DynamicLayer" for layer in getattr(cache, "layers", [None]))

    def prefill(self, model: Any, ids: list[int]) -> Any:
        """A DynamicCache holding exactly ``ids``, reusing the longest prefix already computed."""
        import torch
        from transformers import DynamicCache

        common = 0
        if self.kv is not None:
            for a, b in zip(self.ids, ids, strict=False):
                if a != b:
                    break
                common += 1
            if common < len(self.ids):
                self.kv.crop(-(len(self.ids) - common))
        else:
            self.kv = DynamicCache(config=model.config)
        self.ids = list(ids[:common])
        new = ids[common:]
        if new:
            dev = model.device
            model(input_ids=torch.tensor([new], device=dev), past_key_values=self.kv, use_cache=True,
                  position_ids=torch.arange(common, len(ids), device=dev)[None], logits_to_keep=1)
            self.ids = list(ids)
        if not self.reusable(self.kv):  # e.g. sliding-window layers: never carry it over
            kv, self.kv, self.ids = self.kv, None, []
            return kv
        return self.kv

    def after_generate(self, cache: Any, ids: list[int]) -> None:
        """``generate`` left ``cache`` holding a prefix of ``ids`` (prompt + all but the last new token)."""
        self.ids = ids[:cache.get_seq_length()] if cache is self.kv else []

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """An exception mid-forward (e.g. KeyboardInterrupt) may leave the cache half-written: drop it."""
        try:
            yield
        except BaseException:
            self.clear()
            raise

    def clear(self) -> None:
        """Drops the cached keys/values (memory: ~46 KB per prompt token for SmolLM2)."""
        self.kv, self.ids = None, []


def packed_logprobs(model: Any, cache: Any, ids: list[int], conts: list[list[int]]) -> list[list[float]]:
    """Per-token log-probs of every continuation, all in one row after the cached prompt.

    ``cache`` holds ``ids[:-1]``. The continuations are merged into a prefix tree (candidate
    actions share most of their tokens, e.g. ``<tool_call>\\n{"name": "expand", "arguments":
    {"node_id": "``), laid out as one row ``[last prompt token] + trie nodes``: each node sits at
    position ``P + depth`` and attends to the prompt and its own ancestors only, so every
    continuation sees exactly the context it would see alone while shared prefixes are computed
    once. The cache is cropped back to the prompt afterwards, whatever happened.
    """
    import torch

    dev = model.device
    past = len(ids) - 1
    row, parent, depth = [ids[-1]], [-1], [0]
    children: list[dict[int, int]] = [{}]
    paths: list[list[int]] = []
    for c in conts:
        node, path = 0, []
        for t in c:
            nxt = children[node].get(t)
            if nxt is None:
                nxt = len(row)
                children[node][t] = nxt
                children.append({})
                row.append(t)
                parent.append(node)
                depth.append(depth[node] + 1)
            node = nxt
            path.append(node)
        paths.append(path)
    n = len(row)
    local = torch.zeros(n, n, dtype=torch.bool)
    local[0, 0] = True
    for i in range(1, n):  # parents come before children, so their rows are complete
        local[i] = local[parent[i]]
        local[i, i] = True
    mask = torch.cat([torch.ones(n, past, dtype=torch.bool), local], dim=1)[None, None].to(dev)
    if model.config._attn_implementation == "eager":
        mask = torch.zeros(mask.shape, dtype=model.dtype, device=dev).masked_fill(
            ~mask, torch.finfo(model.dtype).min)
    pos = torch.tensor([[past + d for d in depth]], device=dev)
    try:
        logits = model(input_ids=torch.tensor([row], device=dev), attention_mask=mask,
                       position_ids=pos, past_key_values=cache, use_cache=True).logits[0]
    finally:
        cache.crop(-n)  # back to the prompt, whatever happened
    logp = torch.log_softmax(logits.float(), dim=-1)
    out: list[list[float]] = []
    for c, path in zip(conts, paths, strict=True):
        # token j is predicted by the node before it on the path (the last prompt token for j = 0)
        src = [parent[k] for k in path]
        out.append(logp[src, c].tolist() if c else [])
    return out
