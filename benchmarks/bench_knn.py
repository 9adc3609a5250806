"""Benchmark of the nearest-neighbour backends that score patches (docs/design.md §4).

Times nearest_neighbors per available backend (faiss, core, torch; cuda with a GPU) against
a K=2048 bank of d=152 features, for one 256×256 image (1024 patch queries) and for a
2048×2448 image (78 336 queries). FAISS is the baseline: every backend is also reported
as a ratio of its time to FAISS's, measured in the same process on the same arrays.

    PYTHONPATH=python nice python benchmarks/bench_knn.py   # writes benchmarks/results/knn_cpu.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from run_record import machine_stamp, write_record  # noqa: E402
from seqcore.coreset.knn import available_backends, nearest_neighbors  # noqa: E402

BANK, DIM = 2048, 152
QUERIES = {"256x256 image": 32 * 32, "2048x2448 image": 256 * 306}


def best_ms(queries: np.ndarray, bank: np.ndarray, backend: str, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up call, in milliseconds."""
    nearest_neighbors(queries, bank, backend=backend)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        nearest_neighbors(queries, bank, backend=backend)
        times.append(time.perf_counter() - start)
    return 1000.0 * min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "knn_cpu.json")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    backends = available_backends()
    if "faiss" not in backends:
        raise SystemExit("bench_knn needs faiss for its baseline (pip install faiss-cpu)")
    rng = np.random.default_rng(0)
    bank = rng.standard_normal((BANK, DIM)).astype(np.float32)
    results = {"bank": [BANK, DIM], **machine_stamp(), "rows": []}
    for label, count in QUERIES.items():
        queries = rng.standard_normal((count, DIM)).astype(np.float32)
        repeats = args.repeats if count <= 4096 else max(1, args.repeats // 2)
        times = {b: best_ms(queries, bank, b, repeats) for b in backends}
        row = {"queries": label, "count": count, "ms": {b: round(t, 2) for b, t in times.items()},
               "ratio_to_faiss": {b: round(t / times["faiss"], 2) for b, t in times.items()}}
        print(json.dumps(row))
        results["rows"].append(row)
    write_record(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
