"""The canonical distance contract (distance.hpp): the compiled core and the NumPy reference
both equal, bit for bit, the sequential float64 sum written out in plain Python."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.coreset.reference import canonical_sqdist

core = pytest.importorskip("seqcore._core")


def sequential_sum(a: np.ndarray, b: np.ndarray) -> float:
    """The definition: s = s + (a[k] - b[k])^2 in float64, k = 0..d-1, each step rounded."""
    s = 0.0
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        t = float(x) - float(y)
        s = s + t * t
    return s


def vector_pairs(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs whose squared terms span many magnitudes, so summation order changes the result."""
    rng = np.random.default_rng(seed)
    pairs = []
    for dim in (1, 3, 17, 152, 1536):
        scale = 10.0 ** rng.uniform(-6, 6, dim)
        a = (rng.standard_normal(dim) * scale).astype(np.float32)
        b = (a + rng.standard_normal(dim) * scale * rng.choice([1e-7, 1.0], dim)).astype(np.float32)
        pairs.append((a, b))
    return pairs


@pytest.mark.parametrize("seed", range(4))
def test_core_and_reference_equal_the_definition(seed: int) -> None:
    for a, b in vector_pairs(seed):
        expected = sequential_sum(a, b)
        assert core.canonical_sqdist(a, b) == expected
        assert canonical_sqdist(a[None, :], b)[0] == expected


def test_pairs_are_order_sensitive() -> None:
    """The data would catch a backend that sums pairwise (np.sum) instead of sequentially."""
    pairs = [p for seed in range(4) for p in vector_pairs(seed)]
    differs = [
        float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2)) != sequential_sum(a, b) for a, b in pairs
    ]
    assert any(differs)


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal length"):
        core.canonical_sqdist(np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="1-D"):
        core.canonical_sqdist(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32))
