#!/usr/bin/env bash
# Sets up .venv and runs the main job: synthesize a small dual dataset, train, evaluate,
# write the report to runs/demo/ (override with: bash scripts/run_demo.sh --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/seqcore demo "$@"
