"""Candidate generator fixture for coreset tests: regimes with duplicates and near-ties."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def make_candidates(regime: str, count: int, dim: int, seed: int) -> np.ndarray:
    """Float32 candidates; "grid" has exact duplicates and distance ties, "near_ties"
    differences of one float32 ulp, "clustered" drifting clusters (many replacements)."""
    rng = np.random.default_rng(seed)
    if regime == "grid":
        x = rng.integers(0, 3, (count, dim)) * 0.5
    elif regime == "gaussian":
        x = rng.standard_normal((count, dim))
    elif regime == "near_ties":
        base = rng.integers(1, 4, (count, dim)).astype(np.float32)
        return base + rng.integers(-2, 3, (count, dim)).astype(np.float32) * np.spacing(base)
    elif regime == "clustered":
        centers = rng.standard_normal((8, dim)) * 3
        x = centers[rng.integers(0, 8, count)] + rng.standard_normal((count, dim)) * np.linspace(0.1, 2, count)[:, None]
    else:
        raise ValueError(f"unknown regime {regime!r}")
    return x.astype(np.float32)


@pytest.fixture(scope="session")
def candidates() -> Callable[[str, int, int, int], np.ndarray]:
    """make_candidates(regime, count, dim, seed)."""
    return make_candidates
