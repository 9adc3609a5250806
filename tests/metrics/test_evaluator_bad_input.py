"""Evaluator: bad input raises clear errors; undefined metrics are None with a reason."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth


def _gt(shape=(4, 4), defect=True) -> GroundTruth:
    class_mask = np.zeros(shape, int)
    if defect:
        class_mask[1, 1] = 1
    return GroundTruth(class_mask, {1: "crack"})


def test_shape_mismatch_names_the_image():
    with pytest.raises(ValueError, match=r"shape \(4, 5\) differs.*'img7'"):
        Evaluator(["crack"]).add(np.zeros((4, 5)), _gt(), name="img7")


def test_nan_scores_raise():
    scores = np.zeros((4, 4), np.float32)
    scores[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Evaluator(["crack"]).add(scores, _gt())


def test_nan_outside_roi_is_allowed():
    scores = np.zeros((4, 4), np.float32)
    scores[3, 3] = np.nan
    roi = np.ones((4, 4), bool)
    roi[3, 3] = False
    ev = Evaluator(["crack"])
    ev.add(scores, GroundTruth(_gt().class_mask, {1: "crack"}, roi=roi))
    assert ev.compute(0.5).counts["negative_pixels"] == 14


def test_unknown_class_name_raises():
    gt = GroundTruth(_gt().class_mask, {1: "dent"})
    with pytest.raises(ValueError, match="unknown class 'dent'"):
        Evaluator(["crack"], ["stain"]).add(np.zeros((4, 4)), gt)


def test_class_id_without_name_raises():
    gt = GroundTruth(_gt().class_mask * 3, {1: "crack"})
    with pytest.raises(ValueError, match="class id 3"):
        Evaluator(["crack"]).add(np.zeros((4, 4)), gt)


def test_empty_split_raises():
    with pytest.raises(ValueError, match="empty"):
        Evaluator(["crack"]).compute(0.5)
    with pytest.raises(ValueError, match="empty"):
        Evaluator(["crack"]).best_threshold()


def test_split_without_positives_reports_undefined_with_reasons():
    ev = Evaluator(["crack"])
    ev.add(np.random.default_rng(0).random((4, 4)), _gt(defect=False))
    with pytest.raises(ValueError, match="no defect pixels"):
        ev.best_threshold()
    r = ev.compute(0.5)
    d = r.to_dict()
    for key in ("recall", "f1", "mR_DW", "image_auroc", "pixel_auroc", "aupro"):
        assert d[key] is None and key in d["undefined"], key
    assert d["R_DW"]["crack"] is None and "R_DW[crack]" in d["undefined"]
    assert d["precision"] == 0.0  # predictions exist, all false


def test_no_prediction_makes_precision_undefined():
    ev = Evaluator(["crack"])
    ev.add(np.zeros((4, 4)), _gt())
    r = ev.compute(10.0)
    assert r.precision is None and "precision" in r.undefined
    assert r.recall == 0.0


def test_mr_dw_over_classes_with_instances_is_noted():
    ev = Evaluator(["crack", "break"])
    scores = np.zeros((4, 4))
    scores[1, 1] = 1
    ev.add(scores, _gt())
    r = ev.compute(0.5)
    assert r.mR_DW == 1.0 and r.class_recall_dw["break"] is None
    assert any("1 of 2" in note for note in r.notes)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(defect_classes=[]), "defect class"),
        (dict(defect_classes=["a"], impurity_classes=["a"]), "unique"),
        (dict(defect_classes=["a"], min_area=3), "threshold fixed"),
        (dict(defect_classes=["a"], min_area=-1), "min_area"),
        (dict(defect_classes=["a"], threshold=float("nan")), "finite"),
    ],
)
def test_bad_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Evaluator(**kwargs)


def test_compute_arguments_are_checked():
    ev = Evaluator(["crack"], threshold=0.5, min_area=2)
    ev.add(np.zeros((4, 4)), _gt())
    with pytest.raises(ValueError, match="tau_cov"):
        ev.compute(0.5, tau_cov=5)
    with pytest.raises(ValueError, match="needs an Evaluator built with"):
        ev.compute(0.7, min_area=2)
    with pytest.raises(ValueError, match="finite"):
        ev.compute(float("inf"))


def test_bad_score_map_types():
    with pytest.raises(ValueError, match="2-D"):
        Evaluator(["crack"]).add(np.zeros((1, 4, 4)), _gt())
    with pytest.raises(ValueError, match="numeric"):
        Evaluator(["crack"]).add(np.zeros((4, 4), bool), _gt())
    with pytest.raises(ValueError, match="image score"):
        Evaluator(["crack"]).add(np.zeros((4, 4)), _gt(), image_score=float("nan"))
