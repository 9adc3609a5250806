#!/usr/bin/env bash
# The one device script (lent GPU machine): builds seqcore with CUDA for this GPU only,
# runs the GPU tests and the GPU benchmark, and copies logs + JSON to $OUT.
#   OUT=/tmp/out bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/seqcore_gpu_check}"
mkdir -p "$OUT"
PY="$(command -v "${PYTHON:-python3}")"
export PYTHONUNBUFFERED=1
COMMIT="$(cat REVISION 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  nvcc --version | tail -2
  "$PY" -c "import sys, torch, numpy; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__)"
  echo "commit $COMMIT"
} 2>&1 | tee "$OUT/env.log"

start=$SECONDS
if ! { SEQCORE_CUDA_ARCHS="${SEQCORE_CUDA_ARCHS:-90}" cmake -S . -B build/gpu -G Ninja -DSEQCORE_CUDA=ON \
         -DSEQCORE_BUILD_PYTHON=ON -DSEQCORE_BUILD_TESTS=OFF -DSEQCORE_DEV_INPLACE=ON -DPython_EXECUTABLE="$PY" &&
       cmake --build build/gpu -j "$(nproc)"; } > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  exit 1
fi
echo "build: $((SECONDS - start)) s"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"

run() {  # run NAME TIMEOUT CMD...: logs to $OUT/NAME.log, never stops the script
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local status=$?
  echo "$name: exit $status after $((SECONDS - t0)) s"
  tail -25 "$OUT/$name.log"
  return $status
}

if ! run tests_quick "${QUICK_TIMEOUT:-150}" "$PY" -m pytest tests/cuda tests/coreset -m gpu -q -rs \
       -p no:cacheprovider -k "not full_size" --durations=8; then
  command -v compute-sanitizer > /dev/null &&
    run sanitizer 90 compute-sanitizer --tool memcheck --print-limit 20 "$PY" -m pytest tests/cuda -m gpu -q -x \
      -p no:cacheprovider -k "small_batches or ties"
fi
run bench "${BENCH_TIMEOUT:-150}" "$PY" benchmarks/bench_gpu.py --commit "$COMMIT" --out "$OUT/gpu_$(date -u +%F).json"
run tests_full "${FULL_TIMEOUT:-120}" "$PY" -m pytest tests/cuda -m gpu -q -rs -p no:cacheprovider -k "full_size" \
  --durations=3
ls -l "$OUT"
