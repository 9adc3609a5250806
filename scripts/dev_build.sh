#!/usr/bin/env bash
# Development build: compiles seqcore._core (and seqcore._cuda when nvcc is found) in place
# under python/seqcore/, plus the C++ tests, using the interpreter of .venv (or $PYTHON).
# Then: PYTHONPATH=python .venv/bin/python -m pytest tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"
if [ ! -x "$PY" ]; then
  echo "dev_build.sh: no interpreter at $PY; run scripts/setup.sh or set PYTHON=/path/to/python" >&2
  exit 1
fi
cmake -S . -B build/dev -G Ninja -DSEQCORE_BUILD_PYTHON=ON -DSEQCORE_BUILD_TESTS=ON \
  -DSEQCORE_DEV_INPLACE=ON -DPython_EXECUTABLE="$PY" "$@"
cmake --build build/dev -j 2
