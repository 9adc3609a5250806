"""Soak checks (issue 20): memory over many ``predict`` calls, and the coreset's maintained distance
matrix after very many offers.

- predict: one small fitted model predicts N synthetic images (each new); the resident set size
  (VmRSS) is read after 1 000 and after N images. Target: RSS(N) <= 1.05 x RSS(1 000) for N = 10 000.
- offer_batch: a SequentialCoreset receives C random candidates in batches; its maintained distance
  matrix is then compared with a fresh recomputation from its points by the canonical distance
  (docs/design.md §2). Target: equal (bit for bit) after C = 10^7 candidates.

    nice python benchmarks/bench_soak.py                       # 10 000 images, 10^7 candidates
    python benchmarks/bench_soak.py --images 2000 --candidates 1000000 --out /tmp/soak.json
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

RESULTS = Path(__file__).resolve().parent / "results" / "soak_cpu.json"


def rss_mb() -> float:
    """Current resident set size of this process in MiB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def surface(seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    image = 120 + 30 * np.sin(xx / (3.0 + seed % 5)) + 20 * np.cos(yy / 4.0) + rng.normal(0, 6, (size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def soak_predict(images: int, size: int) -> dict:
    """RSS after 1 000 and after ``images`` predictions of fresh synthetic images."""
    from seqcore import FeatureConfig, SequentialPatchCore

    model = SequentialPatchCore(FeatureConfig(resize_short_side=None), capacity=256, seed=0)
    model.fit([surface(s, size) for s in range(8)], epochs=2, progress=False)
    marks, checkpoint = {}, min(1000, images)
    start = time.perf_counter()
    for k in tqdm(range(images), desc="soak predict", unit="img"):
        model.predict(surface(10_000 + k, size))
        if k + 1 in (checkpoint, images):
            marks[k + 1] = rss_mb()
    return {"images": images, "size": size, "rss_mb": marks, "ratio": marks[images] / marks[checkpoint],
            "target_ratio": 1.05, "seconds": time.perf_counter() - start}


def soak_offers(candidates: int, capacity: int, dim: int, batch: int) -> dict:
    """Maintained vs recomputed distance matrix after ``candidates`` offers."""
    from seqcore.coreset import SequentialCoreset
    from seqcore.coreset.reference import canonical_sqdist

    rng = np.random.default_rng(0)
    core = SequentialCoreset(capacity, dim)
    start, replaced = time.perf_counter(), 0
    for _ in tqdm(range(0, candidates, batch), desc="soak offers", unit="batch"):
        replaced += int(core.offer_batch(rng.standard_normal((batch, dim), dtype=np.float32)))
    seconds = time.perf_counter() - start
    points = core.points
    fresh = np.stack([np.sqrt(canonical_sqdist(points, p)) for p in points])
    np.fill_diagonal(fresh, np.inf)
    maintained = core.distance_matrix()
    i, j, distance = core.min_pair
    finite = ~np.eye(len(points), dtype=bool)
    return {"candidates": candidates, "capacity": capacity, "dim": dim, "replaced": replaced, "seconds": seconds,
            "matrix_equal": bool(np.array_equal(maintained, fresh)),
            "max_abs_difference": float(np.abs(maintained[finite] - fresh[finite]).max()),
            "min_pair_equal": bool(distance == fresh.min() and fresh[i, j] == distance)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64, help="side of the synthetic images (default 64)")
    parser.add_argument("--candidates", type=int, default=10_000_000)
    parser.add_argument("--capacity", type=int, default=512)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.candidates % args.batch:
        parser.error("--candidates must be a multiple of --batch")
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "offers": soak_offers(args.candidates, args.capacity, args.dim, args.batch),
              "predict": soak_predict(args.images, args.size)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
