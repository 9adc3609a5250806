"""SequentialCoreset: the Python face of the compiled coreset (docs/design.md §2) on CPU or CUDA.

Backends are classes with one interface: ``seqcore._core.SequentialCoreset(capacity, dim)``
(CPU) and ``seqcore._cuda.SequentialCoreset(capacity, dim, device_index)`` (CUDA, with
``seqcore._cuda.device_count()``), each providing the properties ``capacity``, ``dim``,
``size`` and the methods ``points()``, ``min_pair()``, ``distance_matrix()``,
``offer_batch(float32 (B, dim) C-contiguous, details: bool)`` and
``query(float32 (Q, dim), chunk_size)``. Inputs reach them validated.
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from seqcore.coreset._validate import as_points, positive_int
from seqcore.coreset.device_arrays import DeviceRows, device_rows, is_device_array


def _backend(capacity: int, dim: int, device: str) -> Any:
    """Instantiates the backend coreset for `device` ("cpu", "cuda" or "cuda:N")."""
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}")
    if device == "cpu":
        try:
            core = importlib.import_module("seqcore._core")
        except ImportError as exc:
            raise RuntimeError(
                "the compiled module seqcore._core is missing: run `pip install .` or scripts/dev_build.sh"
            ) from exc
        return core.SequentialCoreset(capacity, dim)
    if device == "cuda" or device.startswith("cuda:"):
        index_text = device.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise ValueError(f"invalid CUDA device {device!r}; use 'cuda' or 'cuda:N'")
        try:
            cuda = importlib.import_module("seqcore._cuda")
        except ImportError as exc:
            raise RuntimeError(
                f"device {device!r} needs seqcore._cuda, which was not built (no CUDA toolkit at build time)"
            ) from exc
        index = int(index_text)
        if index >= cuda.device_count():
            raise RuntimeError(f"device {device!r} is not available: {cuda.device_count()} CUDA GPU(s) found")
        return cuda.SequentialCoreset(capacity, dim, index)
    raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")


class SequentialCoreset:
    """Bounded memory bank of float32 feature vectors kept by the docs/design.md §2 replacement rule.

    Decisions are bit-identical across backends (canonical distance, distance.hpp).
    """

    def __init__(self, capacity: int, dim: int, device: str = "cpu") -> None:
        self._capacity = positive_int(capacity, "capacity")
        self._dim = positive_int(dim, "dim")
        self._device = device
        self._impl = _backend(self._capacity, self._dim, device)

    @classmethod
    def from_points(cls, points: Any, capacity: int | None = None, device: str = "cpu") -> SequentialCoreset:
        """Offers `points` in order (capacity defaults to their number)."""
        pts = as_points(points, None, "points")
        core = cls(len(pts) if capacity is None else capacity, pts.shape[1], device)
        core.offer_batch(pts)
        return core

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def device(self) -> str:
        return self._device

    @property
    def size(self) -> int:
        return int(self._impl.size)

    @property
    def points(self) -> np.ndarray:
        """Copy of the stored points, (size, dim) float32."""
        return self._impl.points()

    @property
    def min_pair(self) -> tuple[int, int, float]:
        """Closest stored pair (i, j, distance) with i < j; (-1, -1, inf) below two points."""
        i, j, dist = self._impl.min_pair()
        return int(i), int(j), float(dist)

    def distance_matrix(self) -> np.ndarray:
        """(size, size) float64 Euclidean distances with +inf on the diagonal."""
        return self._impl.distance_matrix()

    def offer(self, p: Any) -> bool:
        """Offers one candidate; True when it was stored (appended or replaced)."""
        row = as_points(p, self._dim, "p", ndim=1).reshape(1, self._dim)
        if self.size < self._capacity:
            self._impl.offer_batch(row, False)
            return True
        return int(self._impl.offer_batch(row, False)) == 1

    def offer_batch(self, P: Any, return_details: bool = False) -> Any:
        """Offers the rows of P in order, exactly as repeated `offer` calls would.

        Returns the number of replacements (appends not counted); with return_details also
        nearest distance before the offer (float32, inf when empty) and slot (int64, -1 if
        not stored) per candidate.
        """
        on_gpu = self._gpu_rows(P, "P")
        if on_gpu is not None:
            result = self._impl.offer_batch_ptr(on_gpu.ptr, on_gpu.rows, return_details)
            if return_details:
                return int(result[0]), result[1], result[2]
            return int(result)
        rows = as_points(P, self._dim, "P")
        if return_details:
            replaced, nearest, slot = self._impl.offer_batch(rows, True)
            return int(replaced), nearest, slot
        return int(self._impl.offer_batch(rows, False))

    def query(self, Q: Any, chunk_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """Nearest stored point per query: float32 Euclidean distance and int64 index."""
        chunk = positive_int(chunk_size, "chunk_size")
        on_gpu = self._gpu_rows(Q, "Q")
        if on_gpu is not None:
            return self._impl.query_ptr(on_gpu.ptr, on_gpu.rows, chunk)
        return self._impl.query(as_points(Q, self._dim, "Q"), chunk)

    def _gpu_rows(self, x: Any, name: str) -> DeviceRows | None:
        """GPU array rows for the CUDA backend (no host copy); None for host data or on CPU."""
        if self._device == "cpu" or not is_device_array(x):
            return None
        rows = device_rows(x, self._dim, name)
        if rows.device != self._impl.device:
            raise ValueError(f"{name} is on cuda:{rows.device} but the coreset is on cuda:{self._impl.device}")
        return rows

    def __repr__(self) -> str:
        return (f"SequentialCoreset(capacity={self._capacity}, dim={self._dim}, size={self.size}, "
                f"device={self._device!r})")
