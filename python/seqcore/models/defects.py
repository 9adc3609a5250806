"""Defect list of an anomaly map: the 8-connected components at or above the threshold (as the C++ inspector)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Defect:
    """One component: bounding box (x, y, width, height) in pixels, area in pixels, peak and mean map value."""

    bbox: tuple[int, int, int, int]
    area: int
    peak: float
    mean: float


def defect_list(amap: np.ndarray, threshold: float, roi: np.ndarray | None = None) -> list[Defect]:
    """Components of {amap >= threshold} (inside ``roi``), in OpenCV's label (raster) order."""
    mask = np.asarray(amap) >= threshold
    if roi is not None:
        mask &= np.asarray(roi, bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, count):
        values = amap[labels == i].astype(np.float64)
        x, y, w, h, area = (int(v) for v in stats[i])
        out.append(Defect((x, y, w, h), area, float(values.max()), float(values.mean())))
    return out
