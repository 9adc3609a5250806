"""The compiled core makes exactly the NumPy reference's decisions (docs/design.md §2). Hypothesis sizes
come from the profile in tests/conftest.py ("ci": derandomized)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from seqcore.coreset import ReferenceCoreset, SequentialCoreset

REGIMES = ("grid", "gaussian", "near_ties", "clustered")  # see conftest.make_candidates


def assert_same_state(core: SequentialCoreset, ref: ReferenceCoreset) -> None:
    assert core.size == ref.size
    np.testing.assert_array_equal(core.points, ref.points)
    assert core.min_pair == ref.min_pair
    np.testing.assert_array_equal(core.distance_matrix(), ref.distance_matrix())


@given(
    capacity=st.integers(1, 300),
    dim=st.integers(1, 64),
    regime=st.sampled_from(REGIMES),
    seed=st.integers(0, 2**31),
)
def test_decisions_match_reference(
    candidates: Callable[..., np.ndarray], capacity: int, dim: int, regime: str, seed: int,
) -> None:
    cand = candidates(regime, 2500, dim, seed)
    cand[1::5] = cand[::5][: len(cand[1::5])]  # exact duplicates of earlier candidates
    core, ref = SequentialCoreset(capacity, dim), ReferenceCoreset(capacity, dim)
    got = core.offer_batch(cand, return_details=True)
    want = ref.offer_batch(cand, return_details=True)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[1], want[1])
    assert_same_state(core, ref)


@given(
    capacity=st.integers(1, 200),
    dim=st.integers(48, 160),
    regime=st.sampled_from(REGIMES + ("steady",)),
    seed=st.integers(0, 2**31),
)
def test_fast_rejection_path_matches_reference(
    candidates: Callable[..., np.ndarray], capacity: int, dim: int, regime: str, seed: int,
) -> None:
    """Without details, high-dimensional candidates may be rejected via projected witnesses."""
    if regime == "steady":  # near stored points: most candidates rejected early
        base = candidates("gaussian", capacity, dim, seed)
        noise = candidates("gaussian", 1500, dim, seed + 1) * np.float32(0.3)
        cand = np.concatenate([base, base[np.arange(1500) % capacity] + noise])
    else:
        cand = candidates(regime, 1500, dim, seed)
    core, ref = SequentialCoreset(capacity, dim), ReferenceCoreset(capacity, dim)
    assert core.offer_batch(cand) == ref.offer_batch(cand)
    assert_same_state(core, ref)


@given(
    capacity=st.integers(2, 60),
    dim=st.integers(1, 20),
    regime=st.sampled_from(REGIMES),
    seed=st.integers(0, 2**31),
    splits=st.lists(st.integers(0, 1500), max_size=6),
)
def test_batches_equal_single_offers(
    candidates: Callable[..., np.ndarray], capacity: int, dim: int, regime: str, seed: int, splits: list[int],
) -> None:
    cand = candidates(regime, 1500, dim, seed)
    single = SequentialCoreset(capacity, dim)
    stored = [single.offer(p) for p in cand]
    batched = SequentialCoreset(capacity, dim)
    slots = []
    for part in np.split(cand, sorted(set(splits))):
        slots.append(batched.offer_batch(part, return_details=True)[2])
    np.testing.assert_array_equal(np.concatenate(slots) >= 0, stored)
    np.testing.assert_array_equal(single.points, batched.points)
    assert single.min_pair == batched.min_pair


def test_fill_phase_outputs() -> None:
    core = SequentialCoreset(3, 2)
    replaced, nearest, slot = core.offer_batch(np.array([[0, 0], [3, 4], [0, 0], [10, 10]], np.float32), True)
    assert replaced == 1  # appends are not counted
    np.testing.assert_array_equal(slot, [0, 1, 2, 0])
    np.testing.assert_allclose(nearest, [np.inf, 5.0, 0.0, np.hypot(7, 6)])
    assert core.min_pair == (1, 2, 5.0)
    assert core.offer(np.array([3, 4], np.float32)) is False  # duplicate: d_p = 0
    assert core.offer([20.0, 20.0]) is True


def canonical_distances(x: np.ndarray) -> np.ndarray:
    """sqrt of the canonical squared distance: float64 sum over the dimension in index order."""
    diff = x.astype(np.float64)[:, None, :] - x.astype(np.float64)[None, :, :]
    acc = np.zeros(diff.shape[:2])
    for k in range(x.shape[1]):
        acc += diff[:, :, k] * diff[:, :, k]
    return np.sqrt(acc)


def brute_force_nearest(queries: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 nearest index and the gap between the second-nearest and nearest distance."""
    diff = queries.astype(np.float64)[:, None, :] - bank.astype(np.float64)[None, :, :]
    dist = np.sqrt((diff * diff).sum(axis=2))
    order = np.argsort(dist, axis=1, kind="stable")
    rows = np.arange(len(queries))
    return order[:, 0], dist[rows, order[:, 1]] - dist[rows, order[:, 0]]


def test_long_run_matrix_stays_exact() -> None:
    """After 100 000 offers D equals recomputed canonical distances bit for bit and the min
    pair is the true one."""
    rng = np.random.default_rng(7)
    capacity, dim = 96, 12
    core = SequentialCoreset(capacity, dim)
    replaced = 0
    for step in range(10):
        cand = rng.standard_normal((10_000, dim)).astype(np.float32) * (1 + step)
        replaced += core.offer_batch(cand)
    assert replaced > 100
    fresh = canonical_distances(core.points)
    np.fill_diagonal(fresh, np.inf)
    d = core.distance_matrix()
    np.testing.assert_array_equal(d, fresh)
    i, j, dist = core.min_pair
    assert i < j and dist == fresh.min()
    assert (i, j) == divmod(int(np.argmin(fresh)), capacity)


def test_query_matches_reference() -> None:
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((200, 40)).astype(np.float32)
    q = rng.standard_normal((1000, 40)).astype(np.float32)
    core, ref = SequentialCoreset.from_points(pts), ReferenceCoreset.from_points(pts)
    dist, idx = core.query(q, chunk_size=97)
    want_dist, want_idx = ref.query(q)
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    np.testing.assert_allclose(dist, want_dist, rtol=1e-5)
    exact_idx, gap = brute_force_nearest(q, pts)
    clear = gap > 1e-3  # far above the float32 error of distances near 9
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(idx[clear], exact_idx[clear])
    np.testing.assert_array_equal(want_idx[clear], exact_idx[clear])
    empty = SequentialCoreset(4, 40).query(q[:3])
    assert np.isinf(empty[0]).all() and (empty[1] == -1).all()


def test_query_on_stored_points_is_zero(candidates: Callable[..., np.ndarray]) -> None:
    pts = candidates("gaussian", 300, 152, 1)
    dist, idx = SequentialCoreset.from_points(pts).query(pts)
    np.testing.assert_array_equal(idx, np.arange(300))
    assert np.all(dist == 0)
