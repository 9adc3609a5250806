"""From a patch-score grid to an anomaly map, and from a map to an image score (pure functions)."""
from __future__ import annotations

import cv2
import numpy as np


def upsample_nearest(grid: np.ndarray, stride: int, shape: tuple[int, int]) -> np.ndarray:
    """Each grid cell repeated over its stride×stride pixels, cropped to ``shape`` (float32)."""
    full = np.repeat(np.repeat(grid, stride, axis=0), stride, axis=1)[: shape[0], : shape[1]]
    return np.ascontiguousarray(full, dtype=np.float32)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a kernel radius of round(4σ) and mirrored borders; σ = 0 returns the input."""
    if sigma < 0:
        raise ValueError(f"blur sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return image
    radius = int(4.0 * sigma + 0.5)
    size = (2 * radius + 1, 2 * radius + 1)
    return cv2.GaussianBlur(image, size, sigma, borderType=cv2.BORDER_REFLECT)


def anomaly_map(
    grid: np.ndarray, stride: int, prepared_shape: tuple[int, int], input_shape: tuple[int, int], sigma: float
) -> np.ndarray:
    """Patch grid → nearest upsampling to the prepared size → Gaussian blur → linear resize to input size."""
    full = gaussian_blur(upsample_nearest(grid, stride, prepared_shape), sigma)
    if full.shape != tuple(input_shape):
        full = cv2.resize(full, (input_shape[1], input_shape[0]), interpolation=cv2.INTER_LINEAR)
    return full


def max_score(amap: np.ndarray, roi: np.ndarray | None = None) -> float:
    """Image score: the maximum of the map inside the region of interest (0 when it is empty)."""
    values = amap if roi is None else amap[roi]
    return float(values.max()) if values.size else 0.0
