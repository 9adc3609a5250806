"""POD on synthetic surfaces: detection probability rises with defect size at a nominal-quantile threshold."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seqcore.metrics.pod import KINDS, clopper_pearson, lower_bound, paste_defect, pod_curve, size_reaching


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


@pytest.mark.parametrize(("hits", "trials"), [(0, 10), (3, 10), (10, 10), (29, 30), (17, 40)])
def test_clopper_pearson_bounds_are_the_binomial_tail_roots(hits, trials):
    binom = pytest.importorskip("scipy.stats").binom
    low, high = clopper_pearson(hits, trials)
    assert 0 <= low <= hits / trials <= high <= 1
    if hits > 0:  # P(X >= hits | p = low) = 2.5 %
        assert binom.sf(hits - 1, trials, low) == pytest.approx(0.025, abs=1e-9)
        assert binom.sf(hits - 1, trials, lower_bound(hits, trials)) == pytest.approx(0.05, abs=1e-9)
    if hits < trials:  # P(X <= hits | p = high) = 2.5 %
        assert binom.cdf(hits, trials, high) == pytest.approx(0.025, abs=1e-9)
    assert lower_bound(30, 30) == pytest.approx(0.05 ** (1 / 30))


def test_size_reaching_is_the_start_of_the_last_run_above_the_level():
    assert size_reaching([2, 4, 8, 16], [0.1, 0.95, 0.8, 0.9]) == 16
    assert size_reaching([2, 4, 8, 16], [0.1, 0.9, 0.92, 1.0]) == 4
    assert size_reaching([2, 4, 8], [0.1, 0.5, 0.89]) is None


def test_pod_curve_summary_matches_its_hits():
    goods = [_surface(s) for s in range(4)]
    threshold = float(max(_score(g).max() for g in goods))
    seen = []

    def score_with_roi(image, roi):
        seen.append(roi)
        return _score(image)

    curve = pod_curve(score_with_roi, goods, "dot", [2, 30], threshold, trials=10,
                      clean_maps=[_score(g) for g in goods], rois=["a", "b", "c", "d"])
    assert seen[:5] == ["a", "b", "c", "d", "a"]  # trial i uses good image i mod 4 and its roi
    assert curve["pod"] == [h / 10 for h in curve["hits"]]
    assert curve["hits"] == [sum(p >= threshold for p in peaks) for peaks in curve["peaks"]]
    assert curve["baseline"] == [0.0, 0.0]  # the threshold is above every good image's map
    assert all(lo <= p <= hi for lo, p, hi in zip(curve["ci95_low"], curve["pod"], curve["ci95_high"], strict=True))
    assert curve["a90_px"] == size_reaching([2, 30], curve["pod"])
