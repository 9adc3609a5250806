"""Scoring rules of the quality benchmark (issue 14), checked against direct computations."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import quality_lib as ql  # noqa: E402


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 200).astype(float)  # many ties
    labels = rng.random(200) < 0.3
    assert ql.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert ql.auroc([1.0, 2.0], [True, True]) is None


def test_topk_mean_is_the_mean_of_the_largest_scores():
    grid = np.arange(200, dtype=np.float32).reshape(10, 20)
    assert ql.topk_mean_score(grid, 0.01) == pytest.approx(np.mean([198, 199]))
    assert ql.topk_mean_score(grid, 1e-6) == 199.0
    with pytest.raises(ValueError, match="fraction"):
        ql.topk_mean_score(grid, 0.0)


def test_nn_reweighting_follows_the_patchcore_formula():
    """s* scaled by 1 - softmax weight of the nearest bank point among its support set."""
    bank = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [10.0, 10.0]], np.float32)
    support = ql.bank_neighbours(bank, 3)
    np.testing.assert_array_equal(support[0], [0, 1, 2])
    feats = np.array([[[0.1, 0.0], [0.0, -2.0]]], np.float32)  # (1, 2, d); the worst patch is the second
    dist = np.linalg.norm(feats[0, :, None] - bank[None], axis=2)
    scores, nn = dist.min(1).reshape(1, 2), dist.argmin(1).reshape(1, 2)
    d = np.linalg.norm(bank[[0, 1, 2]] - feats[0, 1], axis=1)
    expected = (1.0 - np.exp(d[0]) / np.exp(d).sum()) * 2.0
    assert ql.nn_reweighted_score(scores, nn, feats, bank, support) == pytest.approx(expected, rel=1e-6)


def test_fusion_normalises_each_scale_and_upsamples_coarse_grids():
    fine = np.full((4, 4), 2.0, np.float32)
    coarse = np.array([[4.0, 8.0], [0.0, 4.0]], np.float32)
    fused, stride = ql.fuse_grids([fine, coarse], [8, 16], [2.0, 4.0], "mean")
    assert stride == 8 and fused.shape == (4, 4)
    np.testing.assert_allclose(fused[:2, 2:], 1.5)  # (2/2 + 8/4) / 2
    np.testing.assert_allclose(fused[2:, :2], 0.5)
    maxed, _ = ql.fuse_grids([fine, coarse], [8, 16], [2.0, 4.0], "max")
    np.testing.assert_allclose(maxed[2:, :2], 1.0)
    with pytest.raises(ValueError, match="normaliser"):
        ql.nominal_scale(np.zeros(5))


def test_anomaly_map_is_blocky_then_resized_to_the_image():
    grid = np.zeros((4, 4), np.float32)
    grid[1, 2] = 1.0
    amap = ql.anomaly_map(grid, 8, (32, 32), (64, 48), sigma=0.0)
    assert amap.shape == (64, 48)
    assert amap[8:16, 16:24].min() == 0.0 and amap[20, 28] == pytest.approx(1.0)
