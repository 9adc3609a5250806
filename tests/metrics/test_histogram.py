"""ScoreHistogram: exact merging when the range grows."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics.histogram import ScoreHistogram


def test_growing_range_keeps_counts_identical_to_binning_everything_on_the_final_grid():
    rng = np.random.default_rng(1)
    batches = [rng.random(1000), rng.random(500) * 7 + 3, rng.random(300) * 2 - 5, np.array([0.25] * 10)]
    hist = ScoreHistogram(64, 1)
    for batch in batches:
        hist.add(batch, 0)
    direct = np.bincount(hist.bin_index(np.concatenate(batches)), minlength=64)
    assert hist.counts[0].tolist() == direct.tolist()
    edges = hist.edges()
    assert edges[0] <= -5 and edges[-1] > 10


def test_constant_first_batch_gets_a_usable_grid():
    hist = ScoreHistogram(16, 2)
    hist.add(np.zeros(5), 1)
    hist.add(np.array([1.0, 2.0]), 0)
    assert hist.counts.sum() == 7 and hist.counts[1].sum() == 5


def test_given_score_range_fixes_the_grid_and_edges_are_exact_thresholds():
    hist = ScoreHistogram(10, 1, score_range=(0.0, 1.0))
    hist.add(np.array([0.05, 0.3, 0.3, 0.95]), 0)
    assert hist.width == pytest.approx(0.1)
    assert hist.at_or_above()[0].tolist() == [4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0]
    assert hist.first_edge_at_or_above(0.3) == 3
    assert hist.first_edge_at_or_above(0.31) == 4


def test_bad_range_raises():
    with pytest.raises(ValueError, match="score_range"):
        ScoreHistogram(8, 1, score_range=(1.0, 1.0))
    with pytest.raises(ValueError, match="n_bins"):
        ScoreHistogram(1, 1)
