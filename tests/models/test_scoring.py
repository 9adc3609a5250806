"""Scoring rules of the multi-scale default (issue 14), checked against direct computations."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.models.patchcore.scoring import (
    bank_neighbours,
    fuse_grids,
    nn_reweighted_score,
    nominal_scale,
    topk_mean_score,
)


def test_topk_mean_is_the_mean_of_the_largest_scores():
    grid = np.arange(200, dtype=np.float32).reshape(10, 20)
    assert topk_mean_score(grid, 0.01) == pytest.approx(np.mean([198, 199]))
    assert topk_mean_score(grid, 1e-6) == 199.0
    with pytest.raises(ValueError, match="fraction"):
        topk_mean_score(grid, 0.0)


def test_nn_reweighting_follows_the_patchcore_formula():
    """s* scaled by 1 - softmax weight of the nearest bank point among its support set."""
    bank = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [10.0, 10.0]], np.float32)
    support = bank_neighbours(bank, 3)
    np.testing.assert_array_equal(support[0], [0, 1, 2])
    feats = np.array([[[0.1, 0.0], [0.0, -2.0]]], np.float32)  # (1, 2, d); the worst patch is the second
    dist = np.linalg.norm(feats[0, :, None] - bank[None], axis=2)
    scores, nn = dist.min(1).reshape(1, 2), dist.argmin(1).reshape(1, 2)
    d = np.linalg.norm(bank[[0, 1, 2]] - feats[0, 1], axis=1)
    expected = (1.0 - np.exp(d[0]) / np.exp(d).sum()) * 2.0
    assert nn_reweighted_score(scores, nn, feats, bank, support) == pytest.approx(expected, rel=1e-6)


def test_support_sets_are_capped_by_the_bank_size():
    assert bank_neighbours(np.eye(3, dtype=np.float32), 9).shape == (3, 3)


def test_fusion_normalises_each_scale_and_upsamples_coarse_grids():
    fine = np.full((4, 4), 2.0, np.float32)
    coarse = np.array([[4.0, 8.0], [0.0, 4.0]], np.float32)
    fused, stride = fuse_grids([fine, coarse], [8, 16], [2.0, 4.0], "mean")
    assert stride == 8 and fused.shape == (4, 4)
    np.testing.assert_allclose(fused[:2, 2:], 1.5)  # (2/2 + 8/4) / 2
    np.testing.assert_allclose(fused[2:, :2], 0.5)
    maxed, _ = fuse_grids([fine, coarse], [8, 16], [2.0, 4.0], "max")
    np.testing.assert_allclose(maxed[2:, :2], 1.0)
    with pytest.raises(ValueError, match="one stride and one scale per grid"):
        fuse_grids([fine], [8, 16], [1.0])
    with pytest.raises(ValueError, match="normaliser"):
        nominal_scale(np.zeros(5))
    assert nominal_scale(np.array([1.0, 2.0, 6.0])) == pytest.approx(3.0)


def test_nominal_scale_of_a_bank_that_kept_every_patch_uses_its_own_spacing():
    bank = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]])  # nearest other points: 3, 3, 4
    assert nominal_scale(np.zeros(3), bank) == pytest.approx(10.0 / 3.0)
    assert nominal_scale(np.array([0.5]), bank) == 0.5  # the patches' distances win when they are positive
