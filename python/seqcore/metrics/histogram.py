"""Streaming score histograms on an equal-width grid whose range grows by exact bin merging.

Why: pixel statistics over hundreds of megapixels must not keep the scores. The grid is
``n_bins`` bins of width ``w`` starting at ``lo``. It is fixed by ``score_range`` when the
caller knows the range, else by the first batch of scores. When a later batch falls
outside, the width is multiplied by 2^j and the origin moved by whole new bins, so every
old bin lies inside exactly one new bin and the merged counts stay exact. The resolution
is therefore at worst about 2 × (observed score span) / n_bins (2^16 bins: span / 32768).
"""
from __future__ import annotations

import math

import numpy as np


class ScoreHistogram:
    """Counts of scores per (row, bin); rows are categories such as negatives/positives."""

    def __init__(self, n_bins: int, n_rows: int, score_range: tuple[float, float] | None = None):
        if int(n_bins) < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        self.n_bins = int(n_bins)
        self.counts = np.zeros((n_rows, self.n_bins), np.int64)
        self.lo: float | None = None
        self.width: float | None = None
        if score_range is not None:
            lo, hi = (float(v) for v in score_range)
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError(f"score_range must be finite with hi > lo, got {score_range}")
            self.lo, self.width = lo, (hi - lo) / self.n_bins

    @property
    def is_empty(self) -> bool:
        return self.lo is None

    def edges(self) -> np.ndarray:
        """The n_bins + 1 bin edges; bin k holds scores in [edges[k], edges[k+1])."""
        self._require_grid()
        return self.lo + self.width * np.arange(self.n_bins + 1, dtype=np.float64)

    def _require_grid(self) -> None:
        if self.lo is None:
            raise ValueError("the histogram holds no scores yet")

    def cover(self, smin: float, smax: float) -> None:
        """Make the grid include [smin, smax], merging bins exactly when it must grow."""
        if self.lo is None:
            span = smax - smin
            if span <= 0.0:
                span = max(abs(smax), 1.0) * 1e-6
            self.lo, self.width = float(smin), span / (self.n_bins - 1)
            return
        lo, width, n = self.lo, self.width, self.n_bins
        if smin >= lo and smax < lo + n * width:
            return
        need_hi = max(smax, lo + n * width)
        for j in range(1, 1100):
            new_width = width * 2.0**j
            shift = max(0, math.ceil((lo - smin) / new_width))
            new_lo = lo - shift * new_width
            if new_lo + n * new_width > need_hi and shift + ((n - 1) >> j) < n and new_lo <= smin:
                break
        else:  # pragma: no cover - only reachable with absurd float ranges
            raise ValueError(f"cannot cover score range [{smin}, {smax}]")
        self.counts = self._merged(self.counts, j, shift)
        self.lo, self.width = new_lo, new_width

    def _merged(self, counts: np.ndarray, j: int, shift: int) -> np.ndarray:
        """Counts regridded: old bin i goes to new bin shift + (i >> j)."""
        rows, n = counts.shape
        target = shift + (np.arange(n) >> min(j, 62))
        merged = np.zeros_like(counts)
        for r in range(rows):
            merged[r] = np.bincount(target, weights=counts[r], minlength=n)[:n].astype(np.int64)
        return merged

    def bin_index(self, scores: np.ndarray) -> np.ndarray:
        """Bin of each score (clipped into the grid against float rounding at the ends)."""
        self._require_grid()
        t = np.asarray(scores, dtype=np.float64) - self.lo
        t *= 1.0 / self.width
        np.clip(t, 0, self.n_bins - 1, out=t)
        return t.astype(np.intp)

    def add(self, scores: np.ndarray, rows: np.ndarray | int, bounds: tuple[float, float] | None = None) -> None:
        """Count 1-D finite ``scores`` into ``rows`` (one row for all, or one per score).

        ``bounds`` is (min, max) of the scores when the caller already knows it.
        """
        if scores.size == 0:
            return
        self.cover(*(bounds if bounds is not None else (float(scores.min()), float(scores.max()))))
        key = self.bin_index(scores)
        if isinstance(rows, (int, np.integer)):
            key += int(rows) * self.n_bins
        else:
            key += rows.astype(np.intp) * self.n_bins
        self.counts += np.bincount(key, minlength=self.counts.size).reshape(self.counts.shape)

    def at_or_above(self) -> np.ndarray:
        """(rows, n_bins + 1): counts in bins k.. for each edge k (edge n_bins: nothing)."""
        tail = np.zeros((self.counts.shape[0], self.n_bins + 1), np.int64)
        tail[:, :-1] = np.cumsum(self.counts[:, ::-1], axis=1)[:, ::-1]
        return tail

    def first_edge_at_or_above(self, threshold: float) -> int:
        """Index of the first edge >= threshold: bins from there lie entirely at or above it."""
        self._require_grid()
        k = math.ceil((threshold - self.lo) / self.width - 1e-9)
        return int(min(max(k, 0), self.n_bins))
