"""Binary prediction from an anomaly map: threshold, region of interest, small-component filter."""
from __future__ import annotations

import cv2
import numpy as np


def binary_prediction(
    score_map: np.ndarray, threshold: float, roi: np.ndarray | None = None, min_area: int = 0
) -> np.ndarray:
    """Pixels with score >= threshold inside ``roi``, minus 8-connected components under ``min_area`` pixels."""
    prediction = np.asarray(score_map) >= threshold
    if roi is not None:
        prediction &= roi
    if min_area > 0:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(
            prediction.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        prediction = keep[labels]
    return prediction
