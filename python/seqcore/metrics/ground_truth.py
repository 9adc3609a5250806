"""Per-image ground truth: a class mask with instance ids, class names and a region of interest."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GroundTruth:
    """Annotation of one image; class id 0 is background, pixels outside ``roi`` are ignored."""

    class_mask: np.ndarray  # (H, W) int, 0 = background, >0 = class id
    class_names: dict[int, str]  # class id -> class name
    instance_mask: np.ndarray | None = None  # (H, W) int instance ids, 0 = none
    roi: np.ndarray | None = None  # (H, W) bool region of interest

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.class_mask.shape)  # type: ignore[return-value]
