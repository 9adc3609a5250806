#!/usr/bin/env bash
# Sets up .venv and runs every test: the C++ library alone (ctest, no Python, no CUDA),
# then the Python suite (pytest) against the installed package, then ruff (pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/cmake -S . -B build/cpp -G Ninja -DSEQCORE_CUDA=OFF -DSEQCORE_BUILD_TESTS=ON \
  -DCMAKE_MAKE_PROGRAM="$PWD/.venv/bin/ninja"
.venv/bin/cmake --build build/cpp -j 2
.venv/bin/ctest --test-dir build/cpp --output-on-failure
.venv/bin/python -m pytest tests "$@"
.venv/bin/ruff check .
