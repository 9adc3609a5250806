"""Anomaly-map functions against the formula model.py used before the refactor and a NumPy blur."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seqcore.models.anomaly_map import anomaly_map, gaussian_blur, max_score, upsample_nearest


def _old_formula(grid, stride, prepared_shape, input_shape, sigma):
    """SequentialPatchCore.anomaly_map as it was written in model.py (seqcore 0.1.0)."""
    full = np.repeat(np.repeat(grid, stride, axis=0), stride, axis=1)[: prepared_shape[0], : prepared_shape[1]]
    full = np.ascontiguousarray(full, dtype=np.float32)
    if sigma > 0:
        radius = int(4.0 * sigma + 0.5)
        full = cv2.GaussianBlur(full, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_REFLECT)
    if full.shape != tuple(input_shape):
        full = cv2.resize(full, (input_shape[1], input_shape[0]), interpolation=cv2.INTER_LINEAR)
    return full


def _numpy_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian, radius round(4σ), mirrored borders (edge pixel repeated, as BORDER_REFLECT)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    padded = np.pad(image.astype(np.float64), radius, mode="symmetric")
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, padded)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


@pytest.mark.parametrize(
    "grid_shape, stride, prepared, given, sigma",
    [((8, 8), 8, (64, 64), (64, 64), 2.0), ((7, 9), 8, (52, 70), (52, 70), 0.0),
     ((6, 5), 8, (48, 40), (100, 83), 2.0), ((4, 4), 16, (60, 61), (30, 29), 3.5), ((1, 1), 8, (8, 8), (8, 8), 1.0)],
)
def test_anomaly_map_equals_the_old_formula(grid_shape, stride, prepared, given, sigma):
    grid = np.random.default_rng(sum(grid_shape)).random(grid_shape).astype(np.float32)
    out = anomaly_map(grid, stride, prepared, given, sigma)
    assert out.shape == given and out.dtype == np.float32
    np.testing.assert_array_equal(out, _old_formula(grid, stride, prepared, given, sigma))


def test_upsample_repeats_each_cell_over_its_block_and_crops():
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    full = upsample_nearest(grid, 8, (20, 30))
    assert full.shape == (20, 30) and full.flags.c_contiguous
    for y in range(20):
        for x in range(30):
            assert full[y, x] == grid[y // 8, x // 8]


@pytest.mark.parametrize("sigma", [0.5, 2.0, 3.3])
def test_blur_matches_a_numpy_gaussian(sigma):
    image = np.random.default_rng(1).random((40, 50)).astype(np.float32)
    np.testing.assert_allclose(gaussian_blur(image, sigma), _numpy_blur(image, sigma), atol=1e-5)


def test_blur_keeps_constants_and_rejects_negative_sigma():
    flat = np.full((20, 20), 0.7, np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, 2.0), flat, atol=1e-6)
    assert gaussian_blur(flat, 0.0) is flat
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(flat, -1.0)


def test_max_score_is_the_maximum_inside_the_region_of_interest():
    amap = np.zeros((4, 5), np.float32)
    amap[0, 0], amap[3, 4] = 9.0, 2.5
    roi = np.zeros((4, 5), bool)
    roi[2:, 2:] = True
    assert max_score(amap) == 9.0
    assert max_score(amap, roi) == 2.5
    assert max_score(amap, np.zeros_like(roi)) == 0.0
    assert isinstance(max_score(amap), float)
