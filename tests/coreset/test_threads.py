"""SEQCORE_NUM_THREADS = 1, 2 and 8 give identical decisions, matrices, queries and k-center
picks, the pool starts exactly the requested workers, and a forked child gets a fresh pool
(cpp/src/parallel.cpp) instead of waiting on workers that did not survive the fork."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqcore

# Sizes chosen so that every parallel_for of the core splits work: the float32 screen
# (K x d per candidate), the canonical row of a replacement (K·d >= 2^18) and greedy
# k-center (>= 4 blocks of 4096 points at d = 128).
SCRIPT = r"""
import hashlib, os, sys
import numpy as np
from seqcore.coreset import SequentialCoreset, greedy_kcenter

def threads():
    return len(os.listdir("/proc/self/task"))

def run(prefix):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((64, 128)) * 2
    x = (centres[rng.integers(0, 64, 6144)] + rng.standard_normal((6144, 128)) * 0.6).astype(np.float32)
    before = threads()
    plain, detailed = SequentialCoreset(2048, 128), SequentialCoreset(2048, 128)
    replaced = plain.offer_batch(x)
    count, nearest, slots = detailed.offer_batch(x, return_details=True)
    dist, idx = plain.query(x[::2])
    big = np.concatenate([x, x + np.float32(0.05), x - np.float32(0.05), x * np.float32(1.1)])
    picks = greedy_kcenter(big, 24, seed=1)
    matrix = hashlib.sha256(plain.distance_matrix().tobytes()).hexdigest()
    return {prefix + "started": threads() - before, prefix + "replaced": [replaced, count],
            prefix + "nearest": nearest, prefix + "slots": slots, prefix + "points": plain.points,
            prefix + "same_points": np.array_equal(plain.points, detailed.points),
            prefix + "min_pair": np.array(plain.min_pair), prefix + "matrix": matrix,
            prefix + "dist": dist, prefix + "idx": idx, prefix + "picks": picks}

out = run("")
if len(sys.argv) > 2:  # fork after the pool exists; the child repeats everything
    pid = os.fork()
    if pid == 0:
        np.savez(sys.argv[2], **run(""))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    out["child_status"] = status
np.savez(sys.argv[1], **out)
"""


def run_with_threads(tmp: Path, threads: int, fork: bool = False) -> tuple[dict, dict | None]:
    """Runs SCRIPT in a fresh interpreter with SEQCORE_NUM_THREADS; returns its (and its
    forked child's) results."""
    env = dict(os.environ, SEQCORE_NUM_THREADS=str(threads), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(Path(seqcore.__file__).resolve().parents[1]))
    paths = [tmp / f"threads{threads}.npz"] + ([tmp / f"threads{threads}_child.npz"] if fork else [])
    subprocess.run([sys.executable, "-c", SCRIPT, *map(str, paths)], env=env, check=True, timeout=300)
    loaded = [dict(np.load(p)) for p in paths]
    return loaded[0], loaded[1] if fork else None


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[dict, dict | None]]:
    if not Path("/proc/self/task").is_dir():
        pytest.skip("needs /proc/self/task (Linux) to count the pool's threads")
    tmp = tmp_path_factory.mktemp("threads")
    return {n: run_with_threads(tmp, n, fork=n == 8) for n in (1, 2, 8)}


def assert_same(got: dict, want: dict) -> None:
    for key in ("replaced", "nearest", "slots", "points", "min_pair", "matrix", "dist", "idx", "picks"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_results_identical_for_one_two_and_eight_threads(runs: dict) -> None:
    one = runs[1][0]
    assert one["same_points"] and one["replaced"][0] == one["replaced"][1] > 100
    assert 0 < (one["slots"] >= 0).mean() < 1
    for n in (2, 8):
        assert_same(runs[n][0], one)


def test_pool_starts_the_requested_workers(runs: dict) -> None:
    """Threads started beyond the single-threaded run's (the interpreter may start its own)."""
    base = int(runs[1][0]["started"])
    assert [int(runs[n][0]["started"]) - base for n in (2, 8)] == [1, 7]


def test_forked_child_gets_a_fresh_pool(runs: dict) -> None:
    parent, child = runs[8]
    assert int(parent["child_status"]) == 0
    # the child inherits everything the interpreter started lazily, so only the pool's
    # workers are new: seven of them, started afresh (the parent's did not survive the fork)
    assert int(child["started"]) == 7
    assert_same(child, runs[1][0])
