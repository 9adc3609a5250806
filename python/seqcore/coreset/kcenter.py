"""Greedy k-center selection: the original PatchCore coreset baseline (docs/design.md §2 Reference)."""
from __future__ import annotations

from typing import Any

import numpy as np

from seqcore.coreset._validate import as_points, positive_int

_PROJECTION_ROWS = 65536  # rows projected per matmul, bounding temporary memory
_PROGRESS_WORK = 10**10   # show a progress bar from this many distance terms on


def prepare_kcenter(features: Any, projection_dim: int | None, seed: int) -> tuple[np.ndarray, int]:
    """Validated float32 features, optionally Gaussian-projected to projection_dim, and the
    seeded random start index."""
    x = as_points(features, None, "features")
    if len(x) == 0:
        raise ValueError("features must contain at least one row")
    rng = np.random.default_rng(seed)
    if projection_dim is not None:
        out_dim = positive_int(projection_dim, "projection_dim")
        matrix = (rng.standard_normal((x.shape[1], out_dim)) / np.sqrt(out_dim)).astype(np.float32)
        x = np.concatenate([x[i : i + _PROJECTION_ROWS] @ matrix for i in range(0, len(x), _PROJECTION_ROWS)])
    return np.ascontiguousarray(x), int(rng.integers(len(x)))


def greedy_kcenter(features: Any, k: int, projection_dim: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices (int64, selection order) of min(k, n) distinct rows chosen greedily, each the
    row farthest from those chosen before (C++ float32 loop, all cores, GIL released)."""
    from tqdm import tqdm

    from seqcore import _core

    k = positive_int(k, "k")
    x, start = prepare_kcenter(features, projection_dim, seed)
    total = min(k, len(x))
    with tqdm(total=total, desc="greedy k-center", unit="pick", disable=x.size * total < _PROGRESS_WORK) as bar:
        return _core.greedy_kcenter(x, k, start, lambda done: bar.update(done - bar.n))
