"""Threshold-free measures: ROC/AUROC from ranks or histograms, PR curve, PRO curve and AUPRO."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def rank_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC by the Mann-Whitney rank statistic (ties count one half); needs both labels present."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs positive and negative samples")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_from_scores(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct score, from the highest threshold down, starting at (0, 0)."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    s, y = np.asarray(scores, np.float64)[order], np.asarray(labels, bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def roc_from_tails(pos_tail: np.ndarray, neg_tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at each bin edge from the top edge down; tails are counts at or above each edge."""
    return neg_tail[::-1] / neg_tail[0], pos_tail[::-1] / pos_tail[0]


def area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under a curve sampled at non-decreasing x."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def area_up_to(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoidal area for x in [0, x_max], interpolating the curve at x_max; x non-decreasing."""
    inside = x <= x_max
    xs, ys = x[inside], y[inside]
    if xs[-1] < x_max and inside.sum() < len(x):
        nxt = int(np.argmax(~inside))
        x0, x1, y0, y1 = x[nxt - 1], x[nxt], y[nxt - 1], y[nxt]
        y_at = y0 + (y1 - y0) * (x_max - x0) / (x1 - x0)
        xs, ys = np.r_[xs, x_max], np.r_[ys, y_at]
    return area(xs, ys)


def pro_from_instances(bins: np.ndarray, sizes: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean per-instance overlap at each bin edge (n_bins + 1 values, edge k: bins k.. predicted).

    ``bins`` holds the bin index of every instance pixel, instance after instance.
    """
    weights = np.repeat(1.0 / sizes, sizes)
    per_bin = np.bincount(bins, weights=weights, minlength=n_bins)
    tail = np.zeros(n_bins + 1)
    tail[:-1] = np.cumsum(per_bin[::-1])[::-1]
    return tail / len(sizes)


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = 256) -> tuple[list[float], list[float]]:
    """At most ``max_points`` points of a curve (repeats dropped, both ends kept), as plain lists."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    moved = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0)]
    moved[-1] = True
    x, y = x[moved], y[moved]
    if len(x) > max_points:
        keep = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
        x, y = x[keep], y[keep]
    return [float(v) for v in x], [float(v) for v in y]
