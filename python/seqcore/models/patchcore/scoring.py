"""Multi-scale fusion and PatchCore image scores (pure functions; issue 14's chosen rules).

Each bank's score grid is divided by its nominal scale (the mean nearest-bank distance of
nominal training patches), so banks of different receptive fields weigh alike; the fused grid
is their mean. The image score "nn" is PatchCore's nearest-neighbour reweighting of the fused
grid's worst patch (anomalib's ``compute_anomaly_score``; "nn3": with 3 bank neighbours instead
of 9, as the kitchen-board study), "max" the maximum of the blurred map.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

IMAGE_SCORES = ("max", "nn", "nn3")
NN_SUPPORT = 9  # bank neighbours in PatchCore's reweighting (anomalib's num_neighbors)
NN_SUPPORTS = {"nn": NN_SUPPORT, "nn3": 3}  # "nn3": the kitchen-board study's 3 neighbours
SCALE_SUBSAMPLE = 8  # nominal scales are measured on every 8th training image


def bank_neighbours(bank: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each bank point's k nearest bank points (itself first): PatchCore's support sets."""
    bank = np.asarray(bank, np.float64)
    sq = (bank**2).sum(1)
    dist = sq[:, None] - 2.0 * bank @ bank.T + sq[None, :]
    return np.argsort(dist, axis=1, kind="stable")[:, : min(k, len(bank))]


def nn_reweighted_score(patch_scores: np.ndarray, nn_index: np.ndarray, features: np.ndarray,
                        bank: np.ndarray, support: np.ndarray) -> float:
    """PatchCore's image score (as anomalib's ``compute_anomaly_score``): the max patch score s*
    times 1 - softmax weight of its nearest bank point among that point's k nearest bank points."""
    flat = np.asarray(patch_scores).reshape(-1)
    worst = int(np.argmax(flat))
    x = features.reshape(len(flat), -1)[worst].astype(np.float64)
    neighbours = bank[support[nn_index.reshape(-1)[worst]]].astype(np.float64)
    d = np.sqrt(np.maximum(((neighbours - x) ** 2).sum(1), 0.0))
    e = np.exp(d - d.max())
    return float((1.0 - e[0] / e.sum()) * flat[worst])


def topk_mean_score(patch_scores: np.ndarray, fraction: float = 0.01) -> float:
    """Mean of the highest ``fraction`` of patch scores (at least one): robust to a single noisy patch."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    flat = np.asarray(patch_scores, np.float64).reshape(-1)
    k = max(1, math.ceil(fraction * flat.size))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())


def nominal_scale(train_scores: np.ndarray, bank: np.ndarray | None = None) -> float:
    """Per-bank normaliser: the mean nearest-bank distance of training (nominal) patches.

    When that is zero (a coreset that kept every patch, so each one finds itself) and ``bank`` is
    given, the mean distance of each bank point to its nearest other bank point instead.
    """
    value = float(np.mean(train_scores)) if np.size(train_scores) else 0.0
    if not value > 0.0 and bank is not None and len(bank) > 1:
        points = np.asarray(bank, np.float64)
        sq = (points**2).sum(1)
        dist = np.maximum(sq[:, None] - 2.0 * points @ points.T + sq[None, :], 0.0)
        np.fill_diagonal(dist, np.inf)
        value = float(np.sqrt(dist.min(1)).mean())
    if not value > 0.0:
        raise ValueError("training patches have zero mean distance: the normaliser is undefined")
    return value


def fuse_grids(grids: Sequence[np.ndarray], strides: Sequence[int], scales: Sequence[float],
               how: str = "mean") -> tuple[np.ndarray, int]:
    """Fuse score grids of several receptive fields: each divided by its nominal scale, brought to the
    finest grid (nearest), then averaged (``mean``) or maxed (``max``). Returns the grid and its stride."""
    if how not in ("mean", "max"):
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    if not len(grids) == len(strides) == len(scales) or not grids:
        raise ValueError("fuse_grids needs one stride and one scale per grid, and at least one grid")
    finest = int(np.argmin(strides))
    shape, base = grids[finest].shape, strides[finest]
    stack = []
    for grid, stride, scale in zip(grids, strides, scales, strict=True):
        factor = stride // base
        up = np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]
        stack.append(up / scale)
    stacked = np.stack(stack)
    return (stacked.mean(0) if how == "mean" else stacked.max(0)).astype(np.float32), base
