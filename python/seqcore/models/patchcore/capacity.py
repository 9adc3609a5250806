"""The coreset capacity as a fraction of the training patches (the kitchen-board study), beside a fixed K."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from seqcore.features.config import FeatureConfig
from seqcore.features.extractor import resized_shape


def patch_count(data: Iterable, features: FeatureConfig, stride: int) -> int:
    """Number of stride×stride patches the training images give after ``features``' resizing (all of them,
    regions of interest included: the fraction is of the whole grid)."""
    total = 0
    for item in data:
        image = item.image if hasattr(item, "image") else item[0] if isinstance(item, tuple) else item
        h, w = np.asarray(image).shape[:2]
        if features.resize_shape is not None:
            h, w = features.resize_shape
        else:
            h, w = resized_shape(h, w, features.resize_short_side)
        total += math.ceil(h / stride) * math.ceil(w / stride)
    return total


def capacity_from_fraction(fraction: float, patches: int) -> int:
    """K = round(fraction × patches), at least 1; ValueError unless 0 < fraction <= 1 and patches >= 1."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the coreset fraction must lie in (0, 1], got {fraction}")
    if patches < 1:
        raise ValueError("no training patches to take a fraction of")
    return max(1, round(fraction * patches))
