#!/usr/bin/env bash
# The README's test command: install (idempotent) and run the default test suite
# (slow / gpu / browser tests are deselected by pyproject's addopts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash demos/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec ${PYTHON:-python3} -m pytest "$@"
