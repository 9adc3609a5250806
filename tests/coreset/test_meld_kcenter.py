"""Melding and the greedy k-center baseline against their NumPy references."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from seqcore.coreset import ReferenceCoreset, SequentialCoreset, greedy_kcenter, meld
from seqcore.coreset.reference import reference_greedy_kcenter, reference_meld


@pytest.mark.parametrize("capacity", [None, 16, 64])
def test_meld_matches_reference(candidates: Callable[..., np.ndarray], capacity: int | None) -> None:
    a = SequentialCoreset.from_points(candidates("clustered", 800, 6, 1), capacity=32)
    b = candidates("gaussian", 200, 6, 2)
    c = candidates("grid", 300, 6, 3)
    melded = meld([a, b, c], capacity=capacity)
    want = reference_meld([a.points, b, c], capacity or 32)
    assert melded.capacity == (capacity or 32)
    np.testing.assert_array_equal(melded.points, want.points)
    assert melded.min_pair == want.min_pair


def test_meld_is_a_fixed_point(candidates: Callable[..., np.ndarray]) -> None:
    """A melded coreset accepts none of its sources' points any more."""
    sources = [candidates("gaussian", 500, 5, s) for s in range(3)]
    melded = meld(sources, capacity=40)
    assert all(melded.offer_batch(s) == 0 for s in sources)


def test_meld_rejects_mixed_dimensions() -> None:
    with pytest.raises(ValueError, match="dimension"):
        meld([np.zeros((3, 4), np.float32), np.zeros((3, 5), np.float32)])
    with pytest.raises(ValueError, match="at least one"):
        meld([])


def independent_greedy(x: np.ndarray, k: int, projection_dim: int | None, seed: int) -> np.ndarray:
    """Greedy k-center written from its definition (not from prepare_kcenter): the seeded
    Gaussian projection N(0, 1/projection_dim) drawn first, then the random start, then in
    float64 the point farthest from all chosen ones, lowest index on ties."""
    rng = np.random.default_rng(seed)
    if projection_dim is not None:
        matrix = rng.standard_normal((x.shape[1], projection_dim)) / np.sqrt(projection_dim)
        x = x @ matrix.astype(np.float32)
    x = x.astype(np.float64)
    chosen = [int(rng.integers(len(x)))]
    nearest = np.full(len(x), np.inf)
    while len(chosen) < min(k, len(x)):
        nearest = np.minimum(nearest, ((x - x[chosen[-1]]) ** 2).sum(axis=1))
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))
    return np.array(chosen, np.int64)


@pytest.mark.parametrize("projection_dim", [None, 8])
def test_greedy_matches_independent_reference(
    candidates: Callable[..., np.ndarray], projection_dim: int | None,
) -> None:
    x = candidates("clustered", 3000, 24, 5)
    got = greedy_kcenter(x, 100, projection_dim=projection_dim, seed=3)
    want = independent_greedy(x, 100, projection_dim, seed=3)
    assert got.dtype == np.int64
    assert len(set(got.tolist())) == 100
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reference_greedy_kcenter(x, 100, projection_dim=projection_dim, seed=3), want)


def test_greedy_covers_all_points_when_k_exceeds_n(candidates: Callable[..., np.ndarray]) -> None:
    x = candidates("grid", 50, 2, 0)  # many duplicates
    picked = greedy_kcenter(x, 80)
    assert sorted(picked.tolist()) == list(range(50))


def test_greedy_minimizes_covering_radius_better_than_random(candidates: Callable[..., np.ndarray]) -> None:
    x = candidates("clustered", 2000, 10, 9)
    picked = greedy_kcenter(x, 50, seed=1)
    radius = SequentialCoreset.from_points(x[picked]).query(x)[0].max()
    chosen = np.random.default_rng(1).choice(2000, 50, replace=False)
    random = SequentialCoreset.from_points(x[chosen]).query(x)[0].max()
    assert radius < random


def test_reference_coreset_from_points_keeps_all_when_capacity_allows(
    candidates: Callable[..., np.ndarray],
) -> None:
    x = candidates("gaussian", 20, 3, 4)
    np.testing.assert_array_equal(ReferenceCoreset.from_points(x).points, x)
