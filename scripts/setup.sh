#!/usr/bin/env bash
# Creates .venv (if missing) and installs seqcore with its test extras into it.
# torch/torchvision are pinned as a pair that imports together (timm needs torchvision).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q "torch==2.14.1" "torchvision==0.29.1"
pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" cmake ninja
pip install -q --no-build-isolation ".[test,distributed]"
