"""Streaming score histograms on an equal-width grid whose range grows by exact bin merging.

Why: pixel statistics over hundreds of megapixels must not keep the scores. The grid is
``n_bins`` bins of width ``w`` starting at ``lo``. It is fixed by ``score_range`` when the
caller knows the range, else by the first batch of scores. When a later batch falls
outside, the width is multiplied by the smallest power of two 2^j (j >= 0) that fits the
occupied bins and the new scores, and the origin moves by whole old bins (headroom split evenly on
both sides), so every old bin lies inside exactly one new bin and the merged counts stay
exact. The bin width is therefore at most about 2 × (observed score span) / n_bins
(2^16 bins: span / 32768): the resolution of thresholds and of the ROC/PRO curves.
"""
from __future__ import annotations

import math

import numpy as np

from seqcore.metrics.kernels import bin_pixels

_NO_ROI = np.ones((1, 1), bool)


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
        # everything in old-bin units: the occupied old bins and the bins of the new scores
        occupied = np.flatnonzero(self.counts.any(axis=0))
        low, high = math.floor((smin - lo) / width), math.floor((smax - lo) / width)
        if len(occupied):
            low, high = min(low, int(occupied[0])), max(high, int(occupied[-1]))
        group = 1  # a shift alone suffices when the occupied bins and new scores fit n bins
        while high - low + 1 > n * group:
            group *= 2
        # new bin k = old bins [offset + k*group, offset + (k+1)*group): headroom split evenly
        offset = low - (n * group - (high - low + 1)) // 2
        if len(occupied):
            first, last = int(occupied[0]), int(occupied[-1])
            target = (np.arange(first, last + 1) - offset) // group
            merged = np.zeros_like(self.counts)
            for r in range(self.counts.shape[0]):
                merged[r] = np.bincount(target, weights=self.counts[r, first : last + 1], minlength=n)
            self.counts = merged
        self.lo, self.width = lo + offset * width, width * group

    def bin_index(self, scores: np.ndarray) -> np.ndarray:
        """Bin of each score (clipped into the grid against float rounding at the ends)."""
        self._require_grid()
        t = np.asarray(scores, dtype=np.float64) - self.lo
        t *= 1.0 / self.width
        np.clip(t, 0, self.n_bins - 1, out=t)
        return t.astype(np.intp)

    def add_pixels(self, scores: np.ndarray, classes: np.ndarray, roi: np.ndarray | None,
                   row_of_class: np.ndarray, bounds: tuple[float, float]) -> None:
        """Count each 2-D ``scores`` pixel inside ``roi`` into row ``row_of_class[classes]``.

        ``bounds`` is the (min, max) of those scores; the grid grows to cover it first.
        """
        self.cover(*bounds)
        bin_pixels(scores, classes, _NO_ROI if roi is None else roi, roi is not None,
                   row_of_class, self.lo, 1.0 / self.width, self.counts)

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
