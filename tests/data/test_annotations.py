"""Annotation readers: LabelMe JSON, binary and class*1000+instance masks, dataset layouts."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore.data.annotations import (
    labelme_split,
    magnetic_tile_split,
    mask_folder_split,
    mvtec_split,
    read_binary_mask,
    read_class_instance_mask,
    read_labelme,
    synthetic_split,
)

FIXTURE = Path(__file__).parent / "fixtures" / "labelme_plate.json"
LABELS = {"scratch": "scratch", "Scratch": "scratch", "dent": "dent", "stain": "water_stain"}


def _expected_class_masks() -> dict[str, np.ndarray]:
    ys, xs = np.mgrid[:20, :30]
    scratch = (xs >= 2) & (xs <= 6) & (ys >= 2) & (ys <= 5)  # square polygon
    scratch |= (xs >= 10) & (ys >= 2) & ((xs - 10) + (ys - 2) <= 4)  # right triangle
    scratch |= (xs >= 17) & (xs <= 20) & (ys >= 10) & (ys <= 12)  # rectangle, corners reversed
    scratch |= (xs >= 1) & (xs <= 9) & (ys >= 13) & (ys <= 14)  # band painted over the stain
    dent = (xs - 24) ** 2 + (ys - 5) ** 2 <= 4
    stain = ((xs - 5) ** 2 + (ys - 14) ** 2 <= 9) & ~scratch
    stain |= (ys >= 15) & (ys <= 17) & (((xs >= 12) & (xs <= 13)) | ((xs >= 15) & (xs <= 16)))
    return {"scratch": scratch, "dent": dent, "water_stain": stain}


def test_labelme_fixture_converts_to_expected_class_and_instance_masks():
    gt = read_labelme(FIXTURE, LABELS, impurity_classes=["water_stain"])
    assert gt.class_names == {1: "dent", 2: "scratch", 3: "water_stain"}
    for name, expected in _expected_class_masks().items():
        np.testing.assert_array_equal(gt.class_mask == gt.class_id(name), expected, err_msg=name)
    instances = {name: set(np.unique(gt.instance_mask[gt.class_mask == gt.class_id(name)]).tolist())
                 for name in ("scratch", "dent", "water_stain")}
    assert len(instances["scratch"]) == 4 and len(instances["dent"]) == 1
    assert len(instances["water_stain"]) == 2  # the circle, and the two rectangles sharing group_id 3
    assert not instances["scratch"] & instances["water_stain"]


def test_labelme_without_impurity_order_lets_later_shapes_win():
    gt = read_labelme(FIXTURE, LABELS)
    assert gt.class_names[int(gt.class_mask[14, 5])] == "water_stain"  # stain drawn after the band


def _write(tmp_path: Path, shapes: list) -> Path:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"shapes": shapes, "imageHeight": 8, "imageWidth": 8}))
    return path


def test_labelme_unknown_shape_label_or_broken_file_raises(tmp_path):
    line = [{"label": "scratch", "points": [[0, 0], [5, 5]], "shape_type": "line"}]
    with pytest.raises(ValueError, match="unsupported shape type 'line'"):
        read_labelme(_write(tmp_path, line), LABELS)
    unknown = [{"label": "bubble", "points": [[0, 0], [5, 5]], "shape_type": "rectangle"}]
    with pytest.raises(ValueError, match="label 'bubble' missing"):
        read_labelme(_write(tmp_path, unknown), LABELS)
    short = [{"label": "scratch", "points": [[0, 0], [5, 5]], "shape_type": "polygon"}]
    with pytest.raises(ValueError, match="at least 3"):
        read_labelme(_write(tmp_path, short), LABELS)
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a LabelMe annotation"):
        read_labelme(tmp_path / "b.json", LABELS)


def test_labelme_split_checks_classes_and_finds_images(tmp_path):
    (tmp_path / "plate.json").write_text(FIXTURE.read_text().replace("labelme_plate.png", "plate.png"))
    cv2.imwrite(str(tmp_path / "plate.png"), np.zeros((20, 30), np.uint8))
    split = labelme_split(tmp_path, LABELS, ["scratch", "dent"], ["water_stain"])
    assert [item.name for item in split.items] == ["plate"]
    assert split.items[0].image_path == tmp_path / "plate.png"
    assert split.items[0].ground_truth().shape == (20, 30)
    with pytest.raises(ValueError, match="neither defect nor impurity"):
        labelme_split(tmp_path, LABELS, ["scratch"])


def test_binary_mask_png_and_mask_folder(tmp_path):
    mask = np.zeros((5, 6), np.uint8)
    mask[1, 1:3] = 255
    mask[3, 3] = 100  # JPEG-like noise below 128 is background
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "x.png"), mask)
    gt = read_binary_mask(tmp_path / "sub" / "x.png", "crack")
    assert gt.class_mask.sum() == 2 and gt.class_names == {1: "crack"}
    split = mask_folder_split(tmp_path, "crack")
    assert [i.name for i in split.items] == ["sub/x"] and split.defect_classes == ["crack"]
    with pytest.raises(FileNotFoundError):
        read_binary_mask(tmp_path / "missing.png", "crack")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot decode"):
        read_binary_mask(tmp_path / "bad.png", "crack")


def test_class_instance_mask_and_synthetic_layout(tmp_path):
    base = tmp_path / "Synth_WS"
    (base / "test" / "masks").mkdir(parents=True)
    (base / "classes.json").write_text(json.dumps(
        {"defects": ["scratch"], "impurities": ["water_stain"], "ids": {"scratch": 1, "water_stain": 2}}))
    value = np.zeros((4, 5), np.uint16)
    value[0, :2] = 1001
    value[2, :2] = 1002
    value[3, 3:] = 2001
    cv2.imwrite(str(base / "test" / "masks" / "p0.png"), value)
    (base / "test" / "params").mkdir()
    (base / "test" / "params" / "p0.json").write_text(json.dumps({"camera": {"border_px": 1}}))
    split = synthetic_split(tmp_path, "Synth_WS", "test")
    gt = split.items[0].ground_truth()
    assert split.impurity_classes == ["water_stain"]
    assert gt.roi.sum() == 2 * 3 and gt.roi[1:3, 1:4].all()
    assert gt.class_mask.tolist()[0][:2] == [1, 1] and gt.instance_mask[2, 0] == 2
    with pytest.raises(ValueError, match="class ids \\[2\\]"):
        read_class_instance_mask(base / "test" / "masks" / "p0.png", {1: "scratch"})


def test_magnetic_tile_split_reads_masks_above_127(magnetic_tile_root):
    split = magnetic_tile_split(magnetic_tile_root, "val")
    assert len(split.items) == 171 and split.defect_classes == ["blowhole", "break", "crack"]
    defective = next(i for i in split.items if i.label == "crack")
    gt = defective.ground_truth()
    raw = cv2.imread(str(magnetic_tile_root / f"{defective.name}.png"), cv2.IMREAD_GRAYSCALE)
    assert gt.class_names == {1: "crack"} and int((gt.class_mask > 0).sum()) == int((raw > 127).sum()) > 0
    nominal = next(i for i in split.items if i.label == "free")
    assert nominal.ground_truth().class_mask.max() == 0
    with pytest.raises(ValueError, match="empty"):
        magnetic_tile_split(magnetic_tile_root, "nope")


def test_mvtec_layout_names_and_masks(tmp_path):
    category = tmp_path / "bottle"
    for kind in ("good", "broken"):
        (category / "test" / kind).mkdir(parents=True)
        cv2.imwrite(str(category / "test" / kind / "000.png"), np.zeros((6, 7), np.uint8))
    (category / "ground_truth" / "broken").mkdir(parents=True)
    mask = np.zeros((6, 7), np.uint8)
    mask[2:4, 2:5] = 255
    cv2.imwrite(str(category / "ground_truth" / "broken" / "000_mask.png"), mask)
    split = mvtec_split(category)
    assert [i.name for i in split.items] == ["test/broken/000", "test/good/000"]
    assert split.defect_classes == ["broken"]
    assert split.items[0].ground_truth().class_mask.sum() == 6
    assert split.items[1].ground_truth().shape == (6, 7) and split.items[1].ground_truth().class_mask.max() == 0
