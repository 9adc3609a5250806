"""Gaussian density estimation on embeddings (CutPaste's image score): Mahalanobis distance to the nominal Gaussian."""
from __future__ import annotations

import numpy as np

DEFAULT_SHRINKAGE = 0.1  # covariance shrunk toward its mean variance: few images, many dimensions


def fit_gaussian(embeddings: np.ndarray, shrinkage: float = DEFAULT_SHRINKAGE) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), precision (d, d)) of (n, d) embeddings; covariance (1-s)·Σ + s·tr(Σ)/d·I is invertible for s > 0."""
    x = np.asarray(embeddings, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"GDE needs (n >= 2, d) embeddings, got shape {x.shape}")
    if not 0 < shrinkage <= 1:
        raise ValueError(f"shrinkage must lie in (0, 1], got {shrinkage}")
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
    cov = (1 - shrinkage) * cov + shrinkage * (np.trace(cov) / len(cov) + 1e-12) * np.eye(len(cov))
    return mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32)


def mahalanobis(embeddings: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(n,) Mahalanobis distances of (n, d) embeddings to the Gaussian (mean, precision)."""
    diff = np.asarray(embeddings, np.float64) - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", diff, precision.astype(np.float64), diff), 0.0))
