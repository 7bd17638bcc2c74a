"""Served planner scores against the transformers backend's, on one prompt (bench/serve_e2e.sh, part a).

Why: constrained decoding picks actions by these log-probs, and the planner was tuned on the
transformers backend's; a server that renders a different prompt (it did: vLLM dropped the tool
schemas' "return" keys) or computes in another dtype changes the choices. The same fp32 weights
on the same prompt should agree to ~1e-3.

    python bench/score_parity.py http://127.0.0.1:8011/v1 smollm2
"""

from __future__ import annotations

import sys

from videonav.agent.actions import tool_schemas
from videonav.agent.config import PlannerConfig
from videonav.agent.llm.base import make_llm

MESSAGES = [{"role": "system", "content": "You navigate a video's caption tree."},
            {"role": "user", "content": "Question: what does the dog catch? "
                                        "Nodes: 1 a man cooks pasta; 2 a dog catches a red frisbee."}]
CONTINUATIONS = ['<tool_call>\n{"name": "expand", "arguments": {"node_id": "1"}}\n</tool_call>',
                 '<tool_call>\n{"name": "expand", "arguments": {"node_id": "2"}}\n</tool_call>', "I think"]


def main() -> None:
    url, model = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "smollm2"
    served = make_llm(PlannerConfig(backend="openai", base_url=url, model=model)).score(
        MESSAGES, CONTINUATIONS, tool_schemas())
    local = make_llm(PlannerConfig(backend="transformers")).score(MESSAGES, CONTINUATIONS, tool_schemas())
    diff = max(abs(a - b) for a, b in zip(served, local, strict=True))
    print(f"score parity: served {[round(x, 4) for x in served]} transformers {[round(x, 4) for x in local]} "
          f"max |diff| {diff:.4f}")


if __name__ == "__main__":
    main()
