"""Patch-level labels and metrics against a brute-force loop over the patches, through the Evaluator too."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth
from seqcore.metrics.patches import PatchAccumulator, patch_grid


def _brute(score_map, defect, roi, size, threshold):
    tp = fp = fn = tn = 0
    h, w = score_map.shape
    for y in range(0, h, size):
        for x in range(0, w, size):
            inside = roi[y : y + size, x : x + size]
            if not inside.any():
                continue
            label = bool((defect[y : y + size, x : x + size] & inside).any())
            pred = bool(score_map[y : y + size, x : x + size][inside].max() >= threshold)
            tp, fp, fn, tn = tp + (pred and label), fp + (pred and not label), fn + (label and not pred), \
                tn + (not pred and not label)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    h, w, size = int(rng.integers(20, 70)), int(rng.integers(20, 70)), int(rng.integers(4, 17))
    score_map = rng.random((h, w)).astype(np.float32)
    defect = rng.random((h, w)) > 0.97
    roi = rng.random((h, w)) > 0.3
    roi[: size * 2, : size * 2] = False  # some patches lie wholly outside
    acc = PatchAccumulator(size)
    acc.add(score_map, defect, roi)
    out = acc.compute(0.9)
    expected = _brute(score_map, defect, roi, size, 0.9)
    assert out["confusion"] == expected
    total = sum(expected.values())
    assert out["patches"] == total and out["accuracy"] == pytest.approx((expected["tp"] + expected["tn"]) / total)


def test_evaluator_reports_patches_and_impurities_are_negative():
    score_map = np.zeros((8, 8), np.float32)
    score_map[0, 0] = 1.0  # predicted in the defect patch
    score_map[4, 4] = 1.0  # predicted on the impurity: a false positive
    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1] = 1
    mask[5, 5] = 2
    ev = Evaluator(["crack"], ["stain"], patch_size=4)
    ev.add(score_map, GroundTruth(mask, {1: "crack", 2: "stain"}))
    patch = ev.compute(0.5).to_dict()["patch"]
    assert patch["confusion"] == {"tp": 1, "fp": 1, "fn": 0, "tn": 2}
    assert patch["precision"] == 0.5 and patch["recall"] == 1.0 and patch["accuracy"] == 0.75
    assert patch_grid(score_map, mask == 1, None, 4)[0].shape == (4,)
