#!/usr/bin/env bash
# The README's main job on the embedded defaults, offline: install, make the 20-minute sample
# video, index it with the CPU captioner, and ask it a question (guided: the embedding prior and
# the option scorer; `--strategy navigate` would let the SmolLM2 planner choose the actions).
set -euo pipefail
cd "$(dirname "$0")/.."
bash demos/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PYTHON:-python3}
VN="$PY -m videonav.agent.cli"  # the `videonav` console script, without relying on PATH
OUT=${VIDEONAV_SAMPLE_DIR:-$PWD/out/sample}
MIN=${VIDEONAV_SAMPLE_MINUTES:-20}
STORE=${VIDEONAV_STORE:-$PWD/out/store.sqlite}
mkdir -p "$OUT"
VIDEO="$OUT/sample_${MIN}min.mp4"
[ -f "$VIDEO" ] || $PY demos/make_sample_video.py --minutes "$MIN" --out "$OUT"
$VN index "$VIDEO" --store "$STORE"
Q=$($PY -c "import json,sys; q=json.load(open(sys.argv[1]))[0]; print(q['question'])" "$OUT/sample_${MIN}min.questions.json")
mapfile -t OPTS < <($PY -c "import json,sys; [print(o) for o in json.load(open(sys.argv[1]))[0]['options']]" "$OUT/sample_${MIN}min.questions.json")
echo "== videonav ask \"$Q\" --options ${OPTS[*]}"
$VN ask "$VIDEO" "$Q" --options "${OPTS[@]}" --store "$STORE"
# free text: no options; the answer is read off what the planner read (agent/extract.py, agent/answer_kinds.py)
for FQ in "What is this video about?" "What is shown at 07:00?"; do
  echo "== videonav ask \"$FQ\""
  $VN ask "$VIDEO" "$FQ" --store "$STORE"
done
echo "== chapters"
$VN chapters "$VIDEO" --store "$STORE" --format md || true
