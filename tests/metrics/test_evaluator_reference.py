"""Evaluator against independent references: scikit-learn AUROC and a direct exact AUPRO."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from seqcore.metrics import Evaluator, GroundTruth


def _random_split(seed: int, n_images: int = 6, shape=(48, 64)):
    """Images with random rectangles of a defect class and an impurity; nominal every third image."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_images):
        class_mask = np.zeros(shape, np.int32)
        if i % 3:
            for _ in range(rng.integers(1, 4)):
                y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
                class_mask[y : y + rng.integers(2, 8), x : x + rng.integers(2, 8)] = 1
        y, x = rng.integers(0, shape[0] - 10), rng.integers(0, shape[1] - 10)
        class_mask[y : y + 6, x : x + 9][class_mask[y : y + 6, x : x + 9] == 0] = 2
        scores = rng.normal(size=shape).astype(np.float32) + 1.5 * (class_mask == 1) + 0.7 * (class_mask == 2)
        roi = np.ones(shape, bool)
        roi[:, :5] = False
        items.append((scores, GroundTruth(class_mask, {1: "crack", 2: "stain"}, roi=roi)))
    return items


def test_pixel_and_image_auroc_match_scikit_learn():
    items = _random_split(3)
    ev = Evaluator(["crack"], ["stain"])
    for scores, gt in items:
        ev.add(scores, gt)
    r = ev.compute(ev.best_threshold())
    labels = np.concatenate([(gt.class_mask == 1)[gt.roi] for _, gt in items])
    pixels = np.concatenate([s[gt.roi] for s, gt in items])
    assert r.pixel_auroc == pytest.approx(roc_auc_score(labels, pixels), abs=1e-4)
    image_labels = [bool((gt.class_mask == 1)[gt.roi].any()) for _, gt in items]
    image_scores = [float(s[gt.roi].max()) for s, gt in items]
    assert r.image_auroc == pytest.approx(roc_auc_score(image_labels, image_scores), abs=1e-12)


def _direct_aupro(items, fpr_limit: float = 0.3) -> float:
    """Exact AUPRO: sort all pixels, regions = 8-connected components of the defect class."""
    scores, negative, weights = [], [], []
    regions = []
    for s, gt in items:
        _, labels = cv2.connectedComponents((gt.class_mask == 1).astype(np.uint8), connectivity=8)
        labels = np.where(gt.roi, labels, 0)
        regions += [(labels == k).sum() for k in range(1, labels.max() + 1) if (labels == k).any()]
        sizes = np.bincount(labels.ravel())
        w = np.where(labels > 0, 1.0 / np.maximum(sizes[labels], 1), 0.0)
        scores.append(s[gt.roi])
        negative.append((gt.class_mask != 1)[gt.roi])
        weights.append(w[gt.roi])
    s, neg, w = (np.concatenate(a) for a in (scores, negative, weights))
    order = np.argsort(-s, kind="stable")
    s, neg, w = s[order], neg[order], w[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    fpr = np.r_[0.0, np.cumsum(neg)[last] / neg.sum()]
    pro = np.r_[0.0, np.cumsum(w)[last] / len(regions)]
    grid = np.linspace(0, fpr_limit, 200001)
    curve = np.interp(grid, fpr, pro)
    return float(np.trapezoid(curve, grid) / fpr_limit)


@pytest.mark.parametrize("seed", [0, 5])
def test_aupro_matches_direct_exact_computation(seed):
    items = _random_split(seed)
    ev = Evaluator(["crack"], ["stain"])
    for scores, gt in items:
        ev.add(scores, gt)
    r = ev.compute(0.0)
    assert r.aupro == pytest.approx(_direct_aupro(items), abs=2e-3)
    assert 0.0 < r.aupro < 1.0


def test_threshold_metrics_match_direct_pixel_counts_at_best_threshold():
    items = _random_split(11)
    ev = Evaluator(["crack"], ["stain"])
    for scores, gt in items:
        ev.add(scores, gt)
    t = ev.best_threshold()
    r = ev.compute(t)
    pred = np.concatenate([(s >= t)[gt.roi] for s, gt in items])
    pos = np.concatenate([(gt.class_mask == 1)[gt.roi] for _, gt in items])
    stain = np.concatenate([(gt.class_mask == 2)[gt.roi] for _, gt in items])
    assert r.counts["tp"] == int((pred & pos).sum())
    assert r.counts["fp"] == int((pred & ~pos).sum())
    assert r.class_recall_px["stain"] == pytest.approx((pred & stain).sum() / stain.sum())
    # the F1 at the chosen edge is the best over all thresholds at the scores themselves
    candidates = np.unique(np.concatenate([s[gt.roi] for s, gt in items]))[::50]
    best = max(2 * (pos & (p := np.concatenate([(s >= c)[gt.roi] for s, gt in items]))).sum()
               / (p.sum() + pos.sum()) for c in candidates)
    assert r.f1 >= best - 1e-3


def test_defect_wise_recall_and_sweep_match_scipy_components_at_random_thresholds():
    from scipy import ndimage

    from seqcore.metrics import COVERAGE_SWEEP_PERCENT

    items = _random_split(21, n_images=5)
    ev = Evaluator(["crack"], ["stain"])
    for scores, gt in items:
        ev.add(scores, gt)
    for threshold in (0.3, 1.0, 1.7):
        r = ev.compute(threshold)
        shares = {"crack": [], "stain": []}
        for s, gt in items:
            for cid, cname in ((1, "crack"), (2, "stain")):
                labels, n = ndimage.label(gt.class_mask == cid, structure=np.ones((3, 3)))
                for k in range(1, n + 1):
                    inside = (labels == k) & gt.roi
                    if inside.any():
                        shares[cname].append(((s >= threshold) & inside).sum() / inside.sum())
        for cname, values in shares.items():
            values = np.array(values)
            expected = [float(np.mean(values > p / 100)) if p < 100 else float(np.mean(values == 1.0))
                        for p in COVERAGE_SWEEP_PERCENT]
            assert r.coverage_sweep[cname] == pytest.approx(expected), (cname, threshold)
            assert r.instances[cname] == len(values)
