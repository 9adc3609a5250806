#!/usr/bin/env bash
# Development build: compiles seqcore._core (and seqcore._cuda when nvcc is found) in place
# under python/seqcore/, plus the C++ tests, using the interpreter of .venv (or $PYTHON).
# Then: PYTHONPATH=python .venv/bin/python -m pytest tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$(git rev-parse --show-toplevel)/.venv/bin/python}"
[ -x "$PY" ] || PY=/work/main/.venv/bin/python
cmake -S . -B build/dev -G Ninja -DSEQCORE_BUILD_PYTHON=ON -DSEQCORE_BUILD_TESTS=ON \
  -DSEQCORE_DEV_INPLACE=ON -DPython_EXECUTABLE="$PY" "$@"
cmake --build build/dev -j 2
