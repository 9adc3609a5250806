"""nearest_neighbors: every backend against a float64 NumPy brute force, chunking, and input
validation."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from seqcore.coreset.knn import available_backends, nearest_neighbors

CPU_BACKENDS = ["faiss", "core", "torch"]  # all required dependencies: none may drop out quietly


def test_every_cpu_backend_is_available() -> None:
    assert set(CPU_BACKENDS) <= set(available_backends())


def brute_force(queries: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 nearest distance, index and the gap to the second nearest."""
    diff = queries.astype(np.float64)[:, None, :] - bank.astype(np.float64)[None, :, :]
    dist = np.sqrt((diff * diff).sum(axis=2))
    order = np.argsort(dist, axis=1, kind="stable")
    rows = np.arange(len(queries))
    first, second = dist[rows, order[:, 0]], dist[rows, order[:, 1]]
    return first, order[:, 0], second - first


def assert_close(dist: np.ndarray, want: np.ndarray, bank: np.ndarray) -> None:
    """Squared distances agree up to float32 matmul-form error (relative to the bank's spread)."""
    spread = float(((bank - bank.mean(axis=0)) ** 2).sum(axis=1).max())
    err = np.abs(dist.astype(np.float64) ** 2 - want.astype(np.float64) ** 2)
    limit = 1e-4 * want.astype(np.float64) ** 2 + 1e-5 * spread
    assert np.all(err <= limit), f"max excess {np.max(err - limit)}"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    bank = (rng.normal(size=(300, 24)) * 2.0 + 5.0).astype(np.float32)
    queries = (rng.normal(size=(500, 24)) * 2.0 + 5.0).astype(np.float32)
    queries[:20] = bank[rng.integers(0, len(bank), 20)]  # exact duplicates: distance 0
    return queries, bank


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_backend_matches_float64_brute_force(backend: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    queries, bank = data
    want_dist, want_idx, gap = brute_force(queries, bank)
    dist, idx = nearest_neighbors(queries, bank, chunk_size=64, backend=backend)
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    assert dist.shape == idx.shape == (len(queries),)
    assert_close(dist, want_dist, bank)
    clear = gap > 1e-2
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(idx[clear], want_idx[clear])
    assert_close(dist[:20], np.zeros(20), bank)


def test_backends_agree_with_each_other(data: tuple[np.ndarray, np.ndarray]) -> None:
    queries, bank = data
    results = {b: nearest_neighbors(queries, bank, backend=b) for b in CPU_BACKENDS}
    ref_dist, _ = results[CPU_BACKENDS[0]]
    for dist, _ in results.values():
        assert_close(dist, ref_dist, bank)


@pytest.mark.parametrize("backend", [b for b in CPU_BACKENDS if b != "torch"])
@pytest.mark.parametrize("chunk_size", [1, 7, 499, 500, 10_000])
def test_chunk_size_does_not_change_results(
    chunk_size: int, backend: str, data: tuple[np.ndarray, np.ndarray]
) -> None:
    queries, bank = data
    want = nearest_neighbors(queries, bank, chunk_size=2048, backend=backend)
    got = nearest_neighbors(queries, bank, chunk_size=chunk_size, backend=backend)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_auto_backend_and_conversions(data: tuple[np.ndarray, np.ndarray]) -> None:
    queries, bank = data
    want_dist, want_idx, gap = brute_force(queries, bank)
    # float64, Fortran-ordered and strided inputs are converted to contiguous float32
    dist, idx = nearest_neighbors(np.asfortranarray(queries.astype(np.float64)), bank[::1].copy(order="F"))
    assert_close(dist, want_dist, bank)
    np.testing.assert_array_equal(idx[gap > 1e-2], want_idx[gap > 1e-2])
    dist2, _ = nearest_neighbors(queries[::2], bank)
    assert_close(dist2, want_dist[::2], bank)


def test_empty_queries_give_empty_results(data: tuple[np.ndarray, np.ndarray]) -> None:
    _, bank = data
    dist, idx = nearest_neighbors(np.zeros((0, bank.shape[1]), np.float32), bank)
    assert dist.shape == idx.shape == (0,)


@pytest.mark.parametrize(
    ("queries", "bank", "message"),
    [
        (np.full((2, 3), np.nan, np.float32), np.ones((4, 3), np.float32), "NaN"),
        (np.ones((2, 3), np.float32), np.full((4, 3), np.inf, np.float32), "NaN or inf"),
        (np.ones((2, 4), np.float32), np.ones((4, 3), np.float32), "dimension"),
        (np.ones(3, np.float32), np.ones((4, 3), np.float32), "shape"),
        (np.ones((2, 3), np.int64), np.ones((4, 3), np.float32), "float"),
        (np.ones((2, 3), np.float32), np.ones((0, 3), np.float32), "empty"),
    ],
)
def test_bad_inputs_raise_value_error(queries: np.ndarray, bank: np.ndarray, message: str) -> None:
    for backend in CPU_BACKENDS:
        with pytest.raises(ValueError, match=message):
            nearest_neighbors(queries, bank, backend=backend)


def test_bad_arguments_raise_value_error(data: tuple[np.ndarray, np.ndarray]) -> None:
    queries, bank = data
    with pytest.raises(ValueError, match="backend"):
        nearest_neighbors(queries, bank, backend="annoy")
    with pytest.raises(ValueError, match="chunk_size"):
        nearest_neighbors(queries, bank, chunk_size=0)


def test_cuda_backend_reports_missing_gpu(data: tuple[np.ndarray, np.ndarray]) -> None:
    if "cuda" in available_backends():
        pytest.skip("a GPU is present; tests/cuda covers the CUDA backend")
    queries, bank = data
    with pytest.raises(RuntimeError, match="cuda"):
        nearest_neighbors(queries, bank, backend="cuda")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_tensors_are_accepted(data: tuple[np.ndarray, np.ndarray]) -> None:
    import torch

    queries, bank = data
    want = nearest_neighbors(queries, bank, backend="faiss")
    for backend in CPU_BACKENDS:
        dist, idx = nearest_neighbors(torch.from_numpy(queries), torch.from_numpy(bank), backend=backend)
        assert_close(dist, want[0], bank)
