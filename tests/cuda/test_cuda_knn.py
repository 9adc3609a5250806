"""nearest_neighbors on the GPU: the CUDA and torch backends against a float64 brute force,
with NumPy and torch CUDA inputs."""
from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
import pytest

from seqcore.coreset.knn import available_backends, nearest_neighbors

pytestmark = pytest.mark.gpu


def brute_force(queries: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sq = ((queries.astype(np.float64)[:, None, :] - bank.astype(np.float64)[None]) ** 2).sum(axis=2)
    order = np.argsort(sq, axis=1, kind="stable")
    rows = np.arange(len(queries))
    first, second = np.sqrt(sq[rows, order[:, 0]]), np.sqrt(sq[rows, order[:, 1]])
    return first, order[:, 0], second - first


def check(dist: np.ndarray, idx: np.ndarray, queries: np.ndarray, bank: np.ndarray) -> None:
    want, want_idx, gap = brute_force(queries, bank)
    spread = float(((bank - bank.mean(axis=0)) ** 2).sum(axis=1).max())
    err = np.abs(dist.astype(np.float64) ** 2 - want**2)
    assert np.all(err <= 1e-4 * want**2 + 1e-5 * spread)
    clear = gap > 1e-2
    np.testing.assert_array_equal(idx[clear], want_idx[clear])


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    bank = (np.abs(rng.normal(size=(1000, 40))) * 2 + 3).astype(np.float32)
    queries = (np.abs(rng.normal(size=(3000, 40))) * 2 + 3).astype(np.float32)
    queries[:30] = bank[:30]
    return queries, bank


@pytest.mark.parametrize("chunk_size", [1, 333, 2048])
def test_cuda_backend_matches_brute_force(cuda_module: ModuleType, data: tuple[np.ndarray, np.ndarray],
                                          chunk_size: int) -> None:
    queries, bank = data
    assert "cuda" in available_backends()
    dist, idx = nearest_neighbors(queries, bank, chunk_size=chunk_size, backend="cuda")
    check(dist, idx, queries, bank)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_gpu_tensors_and_torch_backend(cuda_module: ModuleType, data: tuple[np.ndarray, np.ndarray]) -> None:
    import torch

    queries, bank = data
    tq, tb = torch.from_numpy(queries).cuda(), torch.from_numpy(bank).cuda()
    for backend in ("cuda", "torch", "auto"):
        dist, idx = nearest_neighbors(tq, tb, chunk_size=500, backend=backend)
        check(dist, idx, queries, bank)
    bad = tq.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        nearest_neighbors(bad, tb, backend="cuda")
