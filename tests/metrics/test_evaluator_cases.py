"""Evaluator on small hand-computed cases: instances, ROI, coverage threshold, impurities, filtering."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth


def _touching_case() -> tuple[np.ndarray, np.ndarray]:
    class_mask = np.array(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 2],
            [0, 0, 0, 0, 2],
        ]
    )
    scores = np.zeros((5, 5), np.float32)
    scores[2, 2] = scores[4, 4] = scores[4, 0] = 1.0  # hits scratch corner, dent, one background pixel
    return class_mask, scores


def test_diagonally_touching_pixels_form_one_8_connected_instance():
    class_mask, scores = _touching_case()
    ev = Evaluator(["scratch", "dent"])
    ev.add(scores, GroundTruth(class_mask, {1: "scratch", 2: "dent"}))
    r = ev.compute(0.5)
    assert r.instances == {"scratch": 1, "dent": 1}
    assert r.class_recall_dw == {"scratch": 1.0, "dent": 1.0}
    assert r.class_recall_px == {"scratch": pytest.approx(1 / 5), "dent": pytest.approx(1 / 2)}
    assert (r.counts["tp"], r.counts["fp"], r.counts["fn"]) == (2, 1, 5)
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(2 / 7)
    assert r.f1 == pytest.approx(2 * (2 / 3) * (2 / 7) / (2 / 3 + 2 / 7))
    assert r.mR_DW == 1.0


def test_given_instance_ids_split_touching_pixels_of_one_class():
    class_mask, scores = _touching_case()
    instance_mask = np.where(class_mask == 1, 1, 0) + np.where(class_mask == 2, 7, 0)
    instance_mask[2, 2] = 2
    ev = Evaluator(["scratch", "dent"])
    ev.add(scores, GroundTruth(class_mask, {1: "scratch", 2: "dent"}, instance_mask=instance_mask))
    r = ev.compute(0.5)
    assert r.instances == {"scratch": 2, "dent": 1}
    assert r.class_recall_dw["scratch"] == 0.5
    assert r.mR_DW == pytest.approx(0.75)


def test_touching_instances_of_different_classes_stay_separate():
    class_mask = np.zeros((4, 4), int)
    class_mask[1, 0:2] = 1
    class_mask[1, 2:4] = 2
    scores = np.zeros((4, 4), np.float32)
    scores[1, 0] = 1.0
    ev = Evaluator(["scratch", "dent"])
    ev.add(scores, GroundTruth(class_mask, {1: "scratch", 2: "dent"}))
    r = ev.compute(0.5)
    assert r.class_recall_dw == {"scratch": 1.0, "dent": 0.0}
    assert r.instances == {"scratch": 1, "dent": 1}


def test_instance_partly_inside_roi_counts_only_its_inside_pixels():
    class_mask = np.zeros((6, 6), int)
    class_mask[1:3, 0:4] = 1  # 8 pixels, 4 of them inside the ROI (columns 0-1)
    class_mask[5, 5] = 1  # second instance, entirely outside the ROI
    roi = np.zeros((6, 6), bool)
    roi[:, 0:2] = True
    scores = np.zeros((6, 6), np.float32)
    scores[1, 0] = 1.0  # inside ROI, on the instance
    scores[1:3, 2:4] = 1.0  # outside ROI, on the instance: ignored
    scores[0, 5] = 1.0  # background outside ROI: ignored
    gt = GroundTruth(class_mask, {1: "scratch"}, roi=roi)
    ev = Evaluator(["scratch"])
    ev.add(scores, gt)
    r = ev.compute(0.5, tau_cov=0.2)
    assert r.instances == {"scratch": 1}
    assert r.class_recall_px["scratch"] == pytest.approx(1 / 4)
    assert r.counts["positive_pixels"] == 4 and r.counts["negative_pixels"] == 12 - 4
    assert r.counts["fp"] == 0 and r.precision == 1.0
    assert r.class_recall_dw["scratch"] == 1.0
    assert ev.compute(0.5, tau_cov=0.25).class_recall_dw["scratch"] == 0.0


def _one_instance(predicted: int) -> Evaluator:
    class_mask = np.zeros((3, 4), int)
    class_mask[1, :] = 1  # 4 pixels
    scores = np.zeros((3, 4), np.float32)
    scores[1, :predicted] = 1.0
    ev = Evaluator(["scratch"])
    ev.add(scores, GroundTruth(class_mask, {1: "scratch"}))
    return ev


@pytest.mark.parametrize(
    "predicted, tau_cov, detected",
    [(0, 0.0, 0), (1, 0.0, 1), (1, 0.24, 1), (1, 0.25, 0), (2, 0.5, 0), (3, 0.5, 1), (3, 1.0, 0), (4, 1.0, 1),
     (4, 0.99, 1)],
)
def test_coverage_threshold_edges(predicted, tau_cov, detected):
    assert _one_instance(predicted).compute(0.5, tau_cov=tau_cov).detected["scratch"] == detected


def test_coverage_sweep_for_a_quarter_covered_instance():
    r = _one_instance(1).compute(0.5)
    assert r.coverage_sweep["scratch"] == [1.0] * 8 + [0.0] * 4  # > 0..20 %: yes; > 25 %: no


def test_impurity_overlapping_a_defect_overlap_is_positive_and_stain_predictions_are_false_positives():
    stain = np.zeros((6, 6), bool)
    stain[1:4, 1:4] = True  # 9 pixels
    scratch = np.zeros((6, 6), bool)
    scratch[2, 0:6] = True  # 6 pixels, 3 of them over the stain
    gt = GroundTruth.from_layers((6, 6), [("water_stain", stain), ("scratch", scratch)])
    scores = np.zeros((6, 6), np.float32)
    scores[1:4, 1:4] = 1.0  # whole stain region predicted
    ev = Evaluator(["scratch"], ["water_stain"])
    ev.add(scores, gt)
    r = ev.compute(0.5)
    assert r.counts["positive_pixels"] == 6
    assert (r.counts["tp"], r.counts["fp"]) == (3, 6)
    assert r.class_recall_px == {"scratch": 0.5, "water_stain": 1.0}
    assert r.class_recall_dw == {"scratch": 1.0, "water_stain": 1.0}
    # split in two by the scratch, still one instance (its layer id)
    assert r.instances == {"scratch": 1, "water_stain": 1}
    assert r.mR_DW == 1.0  # impurities never enter mR_DW


def test_best_threshold_separates_and_gives_f1_one():
    class_mask = np.zeros((4, 4), int)
    class_mask[0, :2] = 1
    scores = np.linspace(0.0, 0.5, 16, dtype=np.float32).reshape(4, 4)
    scores[0, :2] = [0.8, 0.9]
    ev = Evaluator(["scratch"])
    ev.add(scores, GroundTruth(class_mask, {1: "scratch"}))
    t = ev.best_threshold()
    assert 0.5 < t <= 0.8
    r = ev.compute(t)
    assert r.f1 == 1.0 and r.pixel_auroc == 1.0 and r.aupro == 1.0


def test_min_area_filtering_drops_small_predicted_components():
    class_mask = np.zeros((8, 8), int)
    class_mask[0, 0] = 1  # tiny defect, predicted alone: filtered away
    class_mask[4:7, 4:7] = 1  # 9-pixel defect, fully predicted
    scores = np.zeros((8, 8), np.float32)
    scores[0, 0] = 1.0
    scores[4:7, 4:7] = 1.0
    scores[0, 6:8] = 1.0  # 2-pixel false alarm: filtered away
    gt = GroundTruth(class_mask, {1: "scratch"})
    plain = Evaluator(["scratch"])
    plain.add(scores, gt)
    assert plain.compute(0.5).counts["fp"] == 2
    filtered = Evaluator(["scratch"], threshold=0.5, min_area=3)
    filtered.add(scores, gt)
    r = filtered.compute(0.5, min_area=3)
    assert (r.counts["tp"], r.counts["fp"]) == (9, 0)
    assert r.detected["scratch"] == 1 and r.instances["scratch"] == 2
    assert filtered.compute(0.5).counts["fp"] == 2  # unfiltered view stays available
