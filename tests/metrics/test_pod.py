"""POD on synthetic surfaces: detection probability rises with defect size at a nominal-quantile threshold."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seqcore.metrics.pod import KINDS, paste_defect, pod_curve


def _surface(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, 12, (96, 96)), 0, 255).astype(np.uint8)


def _score(image: np.ndarray) -> np.ndarray:
    """Deviation from the surface level, averaged over 7×7: small defects drown in the noise, large ones do not."""
    img = image.astype(np.float32)
    return cv2.blur(np.abs(img - 128), (7, 7))


@pytest.mark.parametrize("kind", KINDS)
def test_pod_rises_with_size(kind):
    goods = [_surface(s) for s in range(6)]
    threshold = float(np.quantile([_score(g).max() for g in goods], 1.0))
    curve = pod_curve(_score, goods, kind, [2, 6, 14, 30], threshold, trials=12)
    assert curve["pod"][0] <= curve["pod"][-1] and curve["pod"][-1] >= 0.75
    assert curve["pod"][0] < curve["pod"][-1]


def test_paste_marks_the_footprint_and_rejects_bad_input():
    image = _surface(0)
    pasted, footprint = paste_defect(image, "dot", 9, np.random.default_rng(1))
    changed = pasted != image
    assert changed.any() and footprint[changed].all()
    with pytest.raises(ValueError, match="kind"):
        paste_defect(image, "crack", 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="too small"):
        paste_defect(image, "dot", 60, np.random.default_rng(0))
