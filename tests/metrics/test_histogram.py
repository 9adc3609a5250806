"""ScoreHistogram: exact merging when the range grows."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics.histogram import ScoreHistogram

ONE_ROW = np.zeros(1, np.int64)


def _add(hist: ScoreHistogram, scores: np.ndarray, row: int = 0) -> None:
    """Count 1-D scores into one row through the 2-D pixel path."""
    classes = np.zeros((1, len(scores)), np.uint8)
    hist.add_pixels(scores[None, :], classes, None, np.array([row]), (float(scores.min()), float(scores.max())))


def test_growing_range_keeps_counts_identical_to_binning_everything_on_the_final_grid():
    rng = np.random.default_rng(1)
    batches = [rng.random(1000), rng.random(500) * 7 + 3, rng.random(300) * 2 - 5, np.array([0.25] * 10)]
    hist = ScoreHistogram(64, 1)
    for batch in batches:
        _add(hist, batch)
    edges = hist.edges()
    direct, _ = np.histogram(np.concatenate(batches), bins=edges)
    assert hist.counts[0].tolist() == direct.tolist()
    assert edges[0] <= -5 and edges[-1] > 10


def test_roi_and_rows_select_pixels():
    hist = ScoreHistogram(4, 2, score_range=(0.0, 4.0))
    scores = np.array([[0.5, 1.5], [2.5, 3.5]])
    classes = np.array([[0, 1], [1, 0]], np.uint8)
    roi = np.array([[True, True], [False, True]])
    hist.add_pixels(scores, classes, roi, np.array([0, 1]), (0.5, 3.5))
    assert hist.counts.tolist() == [[1, 0, 0, 1], [0, 1, 0, 0]]


def test_constant_first_batch_gets_a_usable_grid():
    hist = ScoreHistogram(16, 2)
    _add(hist, np.zeros(5), 1)
    _add(hist, np.array([1.0, 2.0]), 0)
    assert hist.counts.sum() == 7 and hist.counts[1].sum() == 5


def test_given_score_range_fixes_the_grid_and_edges_are_exact_thresholds():
    hist = ScoreHistogram(10, 1, score_range=(0.0, 1.0))
    _add(hist, np.array([0.05, 0.3, 0.3, 0.95]))
    assert hist.width == pytest.approx(0.1)
    assert hist.at_or_above()[0].tolist() == [4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0]
    assert hist.first_edge_at_or_above(0.3) == 3
    assert hist.first_edge_at_or_above(0.31) == 4


def test_bad_range_raises():
    with pytest.raises(ValueError, match="score_range"):
        ScoreHistogram(8, 1, score_range=(1.0, 1.0))
    with pytest.raises(ValueError, match="n_bins"):
        ScoreHistogram(1, 1)


def test_alternating_small_expansions_keep_resolution_within_twice_the_ideal():
    rng = np.random.default_rng(4)
    hist = ScoreHistogram(1024, 1)
    low, high = 0.0, 1.0
    seen = []
    for step in range(40):
        low, high = (low - 0.05, high) if step % 2 else (low, high + 0.05)
        batch = np.r_[low, high, rng.uniform(low, high, 50)]
        seen.append(batch)
        _add(hist, batch)
    span = high - low
    assert hist.width <= 2 * span / hist.n_bins * 1.01
    direct, _ = np.histogram(np.concatenate(seen), bins=hist.edges())
    assert hist.counts[0].tolist() == direct.tolist()


def test_grid_shifts_without_merging_when_occupied_bins_still_fit():
    hist = ScoreHistogram(8, 1, score_range=(0.0, 8.0))
    _add(hist, np.array([6.5, 7.5]))
    _add(hist, np.array([9.5]))
    assert hist.width == 1.0  # only shifted
    assert hist.counts[0].sum() == 3 and hist.edges()[0] <= 6.0 and hist.edges()[-1] > 9.5
