"""GroundTruth constructors and validation."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.metrics import GroundTruth


def test_from_binary_mask_uint8_png_rule_is_above_127():
    mask = np.array([[0, 127, 128, 255]], np.uint8)
    gt = GroundTruth.from_binary_mask(mask, "crack")
    assert gt.class_mask.tolist() == [[0, 0, 1, 1]]
    assert gt.class_names == {1: "crack"}


def test_from_binary_mask_reads_01_uint8_and_bool_and_float():
    assert GroundTruth.from_binary_mask(np.array([[0, 1]], np.uint8), "a").class_mask.tolist() == [[0, 1]]
    assert GroundTruth.from_binary_mask(np.array([[False, True]]), "a").class_mask.tolist() == [[0, 1]]
    assert GroundTruth.from_binary_mask(np.array([[0.0, 0.2]]), "a").class_mask.tolist() == [[0, 1]]


def test_from_layers_later_layers_win_and_get_own_instance_ids():
    stain = np.zeros((3, 4), bool)
    stain[:, :3] = True
    scratch = np.zeros((3, 4), bool)
    scratch[1, 2:] = True
    gt = GroundTruth.from_layers((3, 4), [("stain", stain), ("scratch", scratch)])
    assert gt.class_names == {1: "stain", 2: "scratch"}
    assert gt.class_mask.tolist() == [[1, 1, 1, 0], [1, 1, 2, 2], [1, 1, 1, 0]]
    assert gt.instance_mask.tolist() == [[1, 1, 1, 0], [1, 1, 2, 2], [1, 1, 1, 0]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(class_mask=np.zeros((2, 2)), class_names={}), "integers"),
        (dict(class_mask=np.zeros((2, 2, 2), int), class_names={}), "2-D"),
        (dict(class_mask=np.zeros((2, 2), int), class_names={0: "bg"}), "> 0"),
        (dict(class_mask=np.zeros((2, 2), int), class_names={1: "a", 2: "a"}), "unique"),
        (dict(class_mask=np.zeros((2, 2), int), class_names={}, roi=np.ones((3, 2), bool)), "roi shape"),
        (dict(class_mask=np.zeros((2, 2), int), class_names={}, roi=np.full((2, 2), 0.5)), "roi must be"),
        (dict(class_mask=np.zeros((2, 2), int), class_names={}, instance_mask=np.zeros((2, 3), int)), "instance_mask"),
        (dict(class_mask=-np.ones((2, 2), int), class_names={}), "negative"),
    ],
)
def test_invalid_ground_truth_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroundTruth(**kwargs)


def test_layer_with_wrong_shape_or_unknown_class_raises():
    with pytest.raises(ValueError, match="shape"):
        GroundTruth.from_layers((2, 2), [("a", np.ones((3, 3), bool))])
    with pytest.raises(ValueError, match="not in class_ids"):
        GroundTruth.from_layers((2, 2), [("b", np.ones((2, 2), bool))], class_ids={"a": 1})
