"""Threshold rules against brute force: every threshold on a fine grid, figures from Evaluator.compute."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth
from seqcore.metrics.operating import ThresholdRule, choose_threshold, detection_scores

NAMES = {1: "scratch", 2: "dent", 3: "stain"}


def _random_split(seed: int, n_images: int = 10, size: int = 12) -> Evaluator:
    """Images with random blobs of two defect classes and one impurity; scores in coarse steps (ties)."""
    rng = np.random.default_rng(seed)
    ev = Evaluator(["scratch", "dent"], ["stain"], n_bins=256)
    for i in range(n_images):
        mask = np.zeros((size, size), np.int64)
        for _ in range(rng.integers(0, 4)):
            r, c = rng.integers(0, size - 3, 2)
            mask[r : r + rng.integers(1, 4), c : c + rng.integers(1, 4)] = rng.integers(1, 4)
        scores = rng.integers(0, 20, (size, size)).astype(np.float32) / 20
        scores[mask > 0] += np.float32(0.3) * (mask[mask > 0] < 3)
        ev.add(scores, GroundTruth(mask, NAMES), name=f"im{i}")
    return ev


def _brute(ev: Evaluator, t: float, tau: float) -> tuple[float | None, float, float | None]:
    """(mR_DW, false calls per good image, stain R_DW) at t, from compute and the float32 image maxima."""
    r = ev.compute(t, tau_cov=tau)
    good = [m for m, lab in zip(ev.image_maxima, ev.image_labels, strict=True) if not lab]
    fc = sum(np.float32(m) >= np.float32(t) for m in good) / len(good)
    imp = r.class_recall_dw["stain"]
    return r.mR_DW, fc, imp


def _grid(ev: Evaluator) -> np.ndarray:
    _, _, scores = ev.instance_arrays()
    values = np.unique(np.concatenate((scores.astype(np.float64), ev.image_maxima)))
    mids = (values[:-1] + values[1:]) / 2
    return np.concatenate((values, mids, [values[0] - 1, values[-1] + 1]))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tau", [0.0, 0.25, 1.0])
def test_detection_scores_match_compute(seed, tau):
    ev = _random_split(seed)
    classes, sizes, scores = ev.instance_arrays()
    d = detection_scores(sizes, scores, tau)
    for t in _grid(ev)[::5]:
        r = ev.compute(t, tau_cov=tau)
        for c, name in enumerate(ev.classes):
            assert r.detected[name] == int((d[classes == c] >= np.float32(t)).sum())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", [0.0, 0.2, 0.5])
def test_recall_at_false_calls_is_the_brute_force_optimum(seed, budget):
    ev = _random_split(seed)
    point = choose_threshold(ev, f"recall-at-false-calls:{budget}", tau_cov=0.25)
    feasible = [b for b in (_brute(ev, t, 0.25) for t in _grid(ev)) if b[1] <= budget]
    best = max(b[0] for b in feasible)
    chosen = _brute(ev, point.threshold, 0.25)
    assert chosen[1] <= budget and chosen[0] == pytest.approx(best)
    assert point.mR_DW == pytest.approx(chosen[0]) and point.false_calls_per_good_image == pytest.approx(chosen[1])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cap", [0.0, 0.5])
def test_impurity_cap_is_the_brute_force_optimum(seed, cap):
    ev = _random_split(seed, n_images=14)
    if ev.compute(0.0).instances["stain"] == 0:
        pytest.skip("this seed draws no stains")
    point = choose_threshold(ev, f"impurity-cap:{cap}")
    feasible = [b for b in (_brute(ev, t, 0.0) for t in _grid(ev)) if b[2] <= cap]
    chosen = _brute(ev, point.threshold, 0.0)
    assert chosen[2] <= cap and chosen[0] == pytest.approx(max(b[0] for b in feasible))
    assert point.impurity_R_DW == pytest.approx(chosen[2])


def test_nominal_quantile_uses_good_images_only():
    ev = _random_split(1)
    good = ~np.array(ev.image_labels)
    for source, values in (("max", ev.image_maxima), ("image", ev.image_scores)):
        rule = "nominal-quantile:0.9" + (":image" if source == "image" else "")
        t = choose_threshold(ev, rule).threshold
        assert t == pytest.approx(np.quantile(np.array(values)[good], 0.9))


def test_f1_rule_is_best_threshold():
    ev = _random_split(2)
    assert choose_threshold(ev, "f1").threshold == ev.best_threshold()


@pytest.mark.parametrize("text", ["f2", "f1:3", "impurity-cap", "impurity-cap:1.5", "recall-at-false-calls:-1",
                                  "nominal-quantile:0.5:mean", "recall-at-false-calls:x"])
def test_bad_rules_are_rejected_with_a_message(text):
    with pytest.raises(ValueError, match="rule"):
        ThresholdRule.parse(text)


def test_rule_round_trips_through_text():
    for text in ["f1", "recall-at-false-calls:0.01", "impurity-cap:0.1", "nominal-quantile:0.99:image"]:
        assert str(ThresholdRule.parse(text)) == text
