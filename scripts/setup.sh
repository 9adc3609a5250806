#!/usr/bin/env bash
# Creates .venv (if missing) and installs seqcore with its test, supervised, report and export extras.
# torch/torchvision are pinned as a pair that imports together (timm needs torchvision).
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages where apt and root exist: OpenCV's C++ package for seqcore::inspect (skipped by
# CMake when absent) and Chromium + its driver for the report.html browser test (skipped when absent).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  [ -f /usr/include/opencv4/opencv2/dnn.hpp ] || missing+=(libopencv-dev)
  { command -v chromium && command -v chromedriver; } >/dev/null || missing+=(chromium chromium-driver)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
      || echo "setup: could not install ${missing[*]}; the tests that need them will skip" >&2
  fi
fi
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q "torch==2.14.1" "torchvision==0.29.1"
pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" cmake ninja
pip install -q --no-build-isolation ".[test,supervised,report,export,distributed]"
