"""Benchmark of the compiled sequential coreset (CPU) against the NumPy reference loop.

Prints and writes candidates/s of offer_batch for K=2048, d in {152, 1536}, in two regimes:
early training (Gaussian candidates, many replacements) and steady state (candidates near
stored points, few replacements), each next to the NumPy reference run in the same process
on the same state and candidates (time-boxed), as a ratio. Then the peak resident memory
above the interpreter baseline after 1e5 and 1e6 offered candidates (fresh subprocess).

    PYTHONPATH=python nice python benchmarks/bench_coreset.py [--out benchmarks/results/coreset_cpu.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from run_record import machine_stamp, write_record
from seqcore.coreset import ReferenceCoreset, SequentialCoreset

CAPACITY = 2048
DIMS = (152, 1536)
REPO = Path(__file__).resolve().parents[1]


def candidates(regime: str, stored: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Early: fresh Gaussian draws; steady: stored points plus small noise."""
    if regime == "early":
        return rng.standard_normal((count, stored.shape[1]), dtype=np.float32)
    out = rng.standard_normal((count, stored.shape[1]), dtype=np.float32)
    out *= np.float32(0.25)
    out += stored[rng.integers(0, len(stored), count)]
    return out


def reference_copy(core: SequentialCoreset) -> ReferenceCoreset:
    """Reference coreset in the same state (avoids its O(K^2 d) fill; D from the core)."""
    ref = ReferenceCoreset(core.capacity, core.dim)
    ref._x[:] = core.points
    ref._d[:] = core.distance_matrix() ** 2
    ref._n = core.size
    return ref


def rate(offer, cand: np.ndarray, time_box: float | None = None) -> tuple[float, int, int]:
    """(candidates/s, candidates offered, replacements), offering batches of 64 until done
    or the time box is spent."""
    done = replaced = 0
    start = time.perf_counter()
    while done < len(cand):
        replaced += offer(cand[done : done + 64])
        done += len(cand[done : done + 64])
        if time_box is not None and time.perf_counter() - start > time_box:
            break
    return done / (time.perf_counter() - start), done, replaced


def speed(dim: int, regime: str, ref_seconds: float, core_count: int) -> dict:
    rng = np.random.default_rng(dim)
    start_points = rng.standard_normal((CAPACITY, dim), dtype=np.float32)
    core = SequentialCoreset.from_points(start_points)
    cand = candidates(regime, start_points, core_count, rng)
    ref_rate, ref_done, ref_replaced = rate(reference_copy(core).offer_batch, cand, ref_seconds)
    same_rate, _, same_replaced = rate(core.offer_batch, cand[:ref_done])
    core = SequentialCoreset.from_points(start_points)
    core_rate, core_done, core_replaced = rate(core.offer_batch, cand)
    return {
        "dim": dim,
        "regime": regime,
        "reference_candidates": ref_done,
        "reference_replacements": ref_replaced,
        "reference_cand_per_s": round(ref_rate, 1),
        "core_same_candidates_replacements": same_replaced,
        "core_same_candidates_cand_per_s": round(same_rate, 1),
        "ratio_same_candidates": round(same_rate / ref_rate, 1),
        "core_candidates": core_done,
        "core_replacements": core_replaced,
        "core_cand_per_s": round(core_rate, 1),
        "ratio_long_run": round(core_rate / ref_rate, 1),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss may carry the parent's peak
    across fork/exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def memory_child(dim: int, checkpoints: list[int]) -> None:
    """Runs in a fresh process: peak RSS above the baseline after each checkpoint."""
    rng = np.random.default_rng(0)
    batch = max(256, 4096 * 152 // dim)  # about 2.5 MB of candidates per batch
    baseline = peak_rss_mb()
    core = SequentialCoreset(CAPACITY, dim)
    offered, out = 0, {"dim": dim, "batch": batch, "baseline_mb": round(baseline, 1)}
    stored = None
    for target in checkpoints:
        while offered < target:
            if stored is None and offered >= 2 * CAPACITY:  # early phase over: sample near stored points
                stored = core.points
            core.offer_batch(candidates("steady", stored, batch, rng) if stored is not None
                             else candidates("early", core.points[:1], batch, rng))
            offered += batch
        out[f"peak_above_baseline_mb_after_{target:.0e}"] = round(peak_rss_mb() - baseline, 1)
    print(json.dumps(out))


def memory(dim: int, checkpoints: list[int]) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", str(dim), "--checkpoints", *map(str, checkpoints)]
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "coreset_cpu.json")
    parser.add_argument("--ref-seconds", type=float, default=15.0, help="time box of each reference loop")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.checkpoints)
        return 0
    results = {"capacity": CAPACITY, **machine_stamp(), "speed": [], "memory": []}
    for dim in DIMS:
        for regime in ("early", "steady"):
            row = speed(dim, regime, args.ref_seconds, core_count=20_000 if dim == 152 else 3_000)
            print(json.dumps(row))
            results["speed"].append(row)
    results["memory"].append(memory(152, args.checkpoints))
    print(json.dumps(results["memory"][-1]))
    results["memory"].append(memory(1536, args.checkpoints[:1]))
    print(json.dumps(results["memory"][-1]))
    write_record(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
