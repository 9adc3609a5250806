"""Evaluator against independent references: scikit-learn AUROC, ROC and PR curves, a direct
exact AUPRO and PRO curve, exhaustive F1 over all thresholds, and the one-bin FP bound."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

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


def _direct_pro_curve(items) -> tuple[np.ndarray, np.ndarray]:
    """Exact (fpr, pro) at every distinct score: regions = 8-connected defect components."""
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
    return fpr, pro


def _direct_aupro(items, fpr_limit: float = 0.3) -> float:
    """Exact AUPRO: the direct PRO curve integrated on a fine grid up to fpr_limit."""
    fpr, pro = _direct_pro_curve(items)
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
    assert r.aupro == pytest.approx(_direct_aupro(items), abs=1e-4)
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
    # the F1 at the chosen edge is the best over every threshold at the scores themselves:
    # sorted descending, threshold = the k-th distinct score predicts the first `last[k] + 1` pixels
    scores = np.concatenate([s[gt.roi] for s, gt in items]).astype(np.float64)
    order = np.argsort(-scores, kind="stable")
    last = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1]
    tp = np.cumsum(pos[order])[last]
    f1_all = 2 * tp / (last + 1 + pos.sum())
    assert len(f1_all) == len(np.unique(scores))
    assert f1_all.max() - 1e-6 <= r.f1 <= f1_all.max() + 1e-12  # measured: equal


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


def _pooled(items) -> tuple[np.ndarray, np.ndarray]:
    """ROI pixel scores (float64) and defect labels of all images."""
    scores = np.concatenate([s[gt.roi] for s, gt in items]).astype(np.float64)
    labels = np.concatenate([(gt.class_mask == 1)[gt.roi] for _, gt in items])
    return scores, labels


def _on_curve(points: np.ndarray, exact: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """For each (x, y) point the distance (max norm) to the nearest point of an exact curve."""
    return np.abs(points[:, None, :] - exact[None, :, :]).max(axis=2).min(axis=1)


def test_curves_lie_on_the_exact_curves_of_the_same_pixels():
    """Every point the plots draw is an exact ROC / PR / PRO point of the pooled pixels."""
    items = _random_split(8)
    ev = Evaluator(["crack"], ["stain"])
    for scores, gt in items:
        ev.add(scores, gt)
    curves = ev.compute(ev.best_threshold()).curves
    scores, labels = _pooled(items)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    roc = np.array([curves["pixel_roc"]["fpr"], curves["pixel_roc"]["tpr"]]).T
    assert 100 < len(roc) <= 256
    assert roc[0].tolist() == [0.0, 0.0] and roc[-1].tolist() == [1.0, 1.0]
    assert _on_curve(roc, np.c_[fpr, tpr]).max() < 1e-12
    assert np.all(np.diff(roc, axis=0) >= 0)
    precision, recall, _ = precision_recall_curve(labels, scores, drop_intermediate=False)
    pr = np.array([curves["pixel_pr"]["recall"], curves["pixel_pr"]["precision"]]).T
    assert _on_curve(pr, np.c_[recall, precision][:-1]).max() < 1e-12  # sklearn's last: (0, 1) added
    assert pr[-1].tolist() == [1.0, labels.mean()]
    pro_fpr, pro = _direct_pro_curve(items)
    drawn = np.array([curves["pro"]["fpr"], curves["pro"]["pro"]]).T
    assert _on_curve(drawn, np.c_[pro_fpr, pro]).max() < 1e-9
    image_scores = [float(s[gt.roi].max()) for s, gt in items]
    image_labels = [bool((gt.class_mask == 1)[gt.roi].any()) for _, gt in items]
    fpr, tpr, _ = roc_curve(image_labels, image_scores, drop_intermediate=False)
    image = np.array([curves["image_roc"]["fpr"], curves["image_roc"]["tpr"]]).T
    assert _on_curve(image, np.c_[fpr, tpr]).max() < 1e-12 and len(image) >= 3


def test_false_positives_between_edges_are_undercounted_by_at_most_one_bin():
    """At thresholds off the bin edges FP counts only bins entirely >= threshold, so the
    true FP exceeds it by at most the negatives in [t, t + bin width)."""
    items = _random_split(13)
    ev = Evaluator(["crack"], ["stain"], n_bins=64)  # coarse bins: the undercount shows
    for scores, gt in items:
        ev.add(scores, gt)
    scores, labels = _pooled(items)
    negatives = scores[~labels]
    missed = []
    for t in np.random.default_rng(0).uniform(-1.0, 3.0, 40):
        r = ev.compute(t)
        width = r.threshold_resolution
        true_fp = int((negatives >= t).sum())
        assert 0 <= true_fp - r.counts["fp"] <= int(((negatives >= t) & (negatives < t + width)).sum())
        assert r.counts["tp"] == int((scores[labels] >= t).sum())  # instance scores: exact
        missed.append(true_fp - r.counts["fp"])
    assert max(missed) > 0  # the bound was exercised, not met trivially
