"""Training crops: centres drawn from pixels brighter than a threshold (intensity-biased) or uniformly.

On dark metal images much of the frame is unlit background; drawing crop centres only from
pixels above ``threshold`` (default 10 on 8-bit, as in the seed work) spends the training on
the lit surface. Crops reaching past the image are zero-padded (the valid mask is zero there too,
so padding carries no loss).
"""
from __future__ import annotations

import numpy as np

DEFAULT_CROP = 256
DEFAULT_INTENSITY_THRESHOLD = 10


def crop_centre(gray: np.ndarray, rng: np.random.Generator, threshold: int | None = DEFAULT_INTENSITY_THRESHOLD
                ) -> tuple[int, int]:
    """(y, x) of one crop centre: a uniformly drawn pixel with value > ``threshold``, or any pixel
    when ``threshold`` is None or no pixel is that bright."""
    h, w = gray.shape
    if threshold is not None:
        bright = np.flatnonzero(gray.reshape(-1) > threshold)
        if bright.size:
            flat = int(bright[rng.integers(bright.size)])
            return flat // w, flat % w
    return int(rng.integers(h)), int(rng.integers(w))


def crop(arrays: list[np.ndarray], centre: tuple[int, int], size: int = DEFAULT_CROP) -> list[np.ndarray]:
    """``size``×``size`` windows of same-shaped 2-D arrays around ``centre``, zero where they leave the image."""
    if size < 1:
        raise ValueError(f"crop size must be >= 1, got {size}")
    h, w = arrays[0].shape[:2]
    y0, x0 = centre[0] - size // 2, centre[1] - size // 2
    sy, sx = slice(max(y0, 0), min(y0 + size, h)), slice(max(x0, 0), min(x0 + size, w))
    dy, dx = slice(sy.start - y0, sy.stop - y0), slice(sx.start - x0, sx.stop - x0)
    out = []
    for array in arrays:
        if array.shape[:2] != (h, w):
            raise ValueError(f"crop: array shapes differ ({array.shape[:2]} vs {(h, w)})")
        window = np.zeros((size, size), array.dtype)
        window[dy, dx] = array[sy, sx]
        out.append(window)
    return out
