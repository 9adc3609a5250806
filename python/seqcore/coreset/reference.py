"""Pure NumPy float64 reference of the sequential coreset (docs/design.md §2), greedy k-center and
melding: small and obviously correct, used by tests and as the benchmark baseline."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqcore.coreset._validate import as_points, positive_int
from seqcore.coreset.kcenter import prepare_kcenter


def canonical_sqdist(points: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Canonical squared distances (distance.hpp) of each row of `points` to `p`.

    Sequential float64 sum over the dimension (np.add.accumulate), exactly as the C++ core.
    """
    diff = points.astype(np.float64) - p.astype(np.float64)
    return np.add.accumulate(diff * diff, axis=1)[:, -1]


class ReferenceCoreset:
    """Same API as SequentialCoreset; `device` is accepted and ignored."""

    def __init__(self, capacity: int, dim: int, device: str = "cpu") -> None:
        self._capacity = positive_int(capacity, "capacity")
        self._dim = positive_int(dim, "dim")
        self._device = device
        self._x = np.zeros((self._capacity, self._dim), np.float32)
        self._d = np.full((self._capacity, self._capacity), np.inf)  # canonical squared
        self._n = 0
        self._pair: tuple[int, int, float] | None = None  # cached closest pair (squared)

    @classmethod
    def from_points(cls, points: Any, capacity: int | None = None, device: str = "cpu") -> ReferenceCoreset:
        pts = as_points(points, None, "points")
        core = cls(len(pts) if capacity is None else capacity, pts.shape[1], device)
        core.offer_batch(pts)
        return core

    capacity = property(lambda self: self._capacity)
    dim = property(lambda self: self._dim)
    device = property(lambda self: self._device)
    size = property(lambda self: self._n)

    @property
    def points(self) -> np.ndarray:
        return self._x[: self._n].copy()

    def _closest_pair(self) -> tuple[int, int, float]:
        """Smallest distance, then smallest i, then smallest j: the first row-major argmin."""
        if self._pair is None:
            n = self._n
            if n < 2:
                self._pair = (-1, -1, np.inf)
            else:
                i, j = divmod(int(np.argmin(self._d[:n, :n])), n)
                self._pair = (i, j, float(self._d[i, j]))
        return self._pair

    @property
    def min_pair(self) -> tuple[int, int, float]:
        i, j, sq = self._closest_pair()
        return i, j, float(np.sqrt(sq))

    def distance_matrix(self) -> np.ndarray:
        return np.sqrt(self._d[: self._n, : self._n])

    def _store(self, slot: int, p: np.ndarray) -> None:
        self._x[slot] = p
        row = canonical_sqdist(self._x[: self._n], p)
        row[slot] = np.inf
        self._d[slot, : self._n] = row
        self._d[: self._n, slot] = row
        self._pair = None

    def _offer_one(self, p: np.ndarray) -> tuple[float, int, bool]:
        """(nearest squared distance, slot or -1, replaced?) for one float32 candidate."""
        n = self._n
        nearest = float(canonical_sqdist(self._x[:n], p).min()) if n else np.inf
        if n < self._capacity:
            self._n = n + 1
            self._store(n, p)
            return nearest, n, False
        i, _, threshold = self._closest_pair()
        if not nearest > threshold:
            return nearest, -1, False
        self._store(i, p)
        return nearest, i, True

    def offer(self, p: Any) -> bool:
        return self._offer_one(as_points(p, self._dim, "p", ndim=1))[1] >= 0

    def offer_batch(self, P: Any, return_details: bool = False) -> Any:
        rows = as_points(P, self._dim, "P")
        results = [self._offer_one(p) for p in rows]
        replaced = sum(r[2] for r in results)
        if not return_details:
            return replaced
        nearest = np.sqrt(np.array([r[0] for r in results], np.float64)).astype(np.float32)
        slot = np.array([r[1] for r in results], np.int64)
        return replaced, nearest, slot

    def query(self, Q: Any, chunk_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        rows = as_points(Q, self._dim, "Q").astype(np.float64)
        chunk = positive_int(chunk_size, "chunk_size")
        if self._n == 0:
            return np.full(len(rows), np.inf, np.float32), np.full(len(rows), -1, np.int64)
        x = self._x[: self._n].astype(np.float64)
        dist, idx = [], []
        for start in range(0, len(rows), chunk):
            q = rows[start : start + chunk]
            sq = ((q[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
            idx.append(sq.argmin(axis=1))
            dist.append(np.sqrt(sq.min(axis=1)))
        return np.concatenate(dist).astype(np.float32), np.concatenate(idx).astype(np.int64)


def reference_meld(sources: Sequence[np.ndarray], capacity: int, max_passes: int = 100) -> ReferenceCoreset:
    """docs/design.md §2 melding: offer every source in turn until a pass makes no replacement."""
    core = ReferenceCoreset(capacity, sources[0].shape[1])
    for _ in range(max_passes):
        if sum(core.offer_batch(s) for s in sources) == 0:
            break
    return core


def reference_greedy_kcenter(features: Any, k: int, projection_dim: int | None = None, seed: int = 0) -> np.ndarray:
    """Greedy k-center in float64 on the same projected features and start as greedy_kcenter."""
    x, start = prepare_kcenter(features, projection_dim, seed)
    x = x.astype(np.float64)
    min_sq = np.full(len(x), np.inf)
    chosen = [start]
    for _ in range(min(positive_int(k, "k"), len(x)) - 1):
        min_sq = np.minimum(min_sq, ((x - x[chosen[-1]]) ** 2).sum(axis=1))
        min_sq[chosen[-1]] = -1.0
        chosen.append(int(np.argmax(min_sq)))
    return np.array(chosen, np.int64)
