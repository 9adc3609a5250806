"""Single-pass numba kernels over one image's pixels (no full-size temporaries).

Why: a 2448×2050 map is 5 M pixels; NumPy needs several 40 MB temporaries and passes per
map, these kernels read each pixel once per pass. The arithmetic of the bin index is the
same as :meth:`ScoreHistogram.bin_index` (float64 ``(s - lo) * (1 / width)``, truncated).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def scan_pixels(scores, classes, roi, use_roi, n_ids):  # pragma: no cover - compiled
    """(min, max, non-finite count, pixels per class id) over the pixels inside the ROI."""
    lo, hi, bad = np.inf, -np.inf, 0
    counts = np.zeros(n_ids, np.int64)
    height, width = scores.shape
    for i in range(height):
        for j in range(width):
            if use_roi and not roi[i, j]:
                continue
            s = scores[i, j]
            if not np.isfinite(s):
                bad += 1
                continue
            if s < lo:
                lo = s
            if s > hi:
                hi = s
            counts[classes[i, j]] += 1
    return lo, hi, bad, counts


@njit(cache=True, nogil=True)
def bin_pixels(scores, classes, roi, use_roi, row_of_class, lo, inv_width, counts):  # pragma: no cover
    """counts[row_of_class[class], bin(score)] += 1 for every pixel inside the ROI."""
    n_bins = counts.shape[1]
    height, width = scores.shape
    for i in range(height):
        for j in range(width):
            if use_roi and not roi[i, j]:
                continue
            t = (np.float64(scores[i, j]) - lo) * inv_width
            k = int(t) if t > 0.0 else 0
            if k > n_bins - 1:
                k = n_bins - 1
            counts[row_of_class[classes[i, j]], k] += 1
