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
# an OpenCV built by scripts/build_opencv.sh (faster DNN than Debian's 4.6) is used when present
opencv=()
[ -f .deps/opencv/lib/cmake/opencv5/OpenCVConfig.cmake ] && opencv=(-DOpenCV_DIR="$PWD/.deps/opencv/lib/cmake/opencv5")
cmake -S . -B build/dev -G Ninja -DSEQCORE_BUILD_PYTHON=ON -DSEQCORE_BUILD_TESTS=ON \
  -DSEQCORE_DEV_INPLACE=ON -DPython_EXECUTABLE="$PY" "${opencv[@]}" "$@"
cmake --build build/dev -j 2
