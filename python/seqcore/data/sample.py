"""The item every dataset yields: an image, its name and its (optional) ground truth."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqcore.metrics.ground_truth import GroundTruth


@dataclass
class Sample:
    """One image; ``gt`` is None when no annotation exists (e.g. nominal training images)."""

    name: str  # unique, path-like id without suffix, e.g. "MT_Free/Imgs/exp1_num_1"
    image: np.ndarray  # (H, W) or (H, W, 3) uint8
    label: str  # image-level class name, e.g. "free", "good", "blowhole"
    gt: GroundTruth | None = None
