"""Annotation readers: LabelMe JSON, binary and class*1000+instance masks, dataset layouts."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore.data import (
    LabelMeDataset,
    MagneticTileDataset,
    MaskFolderDataset,
    MVTecDataset,
    SplitNotFoundError,
    SyntheticDataset,
    read_binary_mask,
    read_class_instance_mask,
    read_labelme,
)
from seqcore.data.images import ImageReadError

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


def test_labelme_dataset_checks_classes_and_finds_images(tmp_path):
    (tmp_path / "plate.json").write_text(FIXTURE.read_text().replace("labelme_plate.png", "plate.png"))
    cv2.imwrite(str(tmp_path / "plate.png"), np.zeros((20, 30), np.uint8))
    split = LabelMeDataset(tmp_path, LABELS, ["scratch", "dent"], ["water_stain"])
    assert split.names == ["plate"] and split.impurity_classes == ("water_stain",)
    assert split.entries[0].image_path == tmp_path / "plate.png"
    assert split.entries[0].ground_truth().shape == (20, 30)
    sample = split[0]
    assert sample.image.shape == (20, 30)
    np.testing.assert_array_equal(sample.gt.class_mask, read_labelme(FIXTURE, LABELS, impurity_classes=["water_stain"])
                                  .class_mask)
    assert LabelMeDataset(tmp_path, LABELS, impurity_classes=["water_stain"]).defect_classes == ("dent", "scratch")
    with pytest.raises(ValueError, match="neither defect nor impurity"):
        LabelMeDataset(tmp_path, LABELS, ["scratch"])


def test_binary_mask_png_and_mask_folder(tmp_path):
    mask = np.zeros((5, 6), np.uint8)
    mask[1, 1:3] = 255
    mask[3, 3] = 100  # JPEG-like noise below 128 is background
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "x.png"), mask)
    gt = read_binary_mask(tmp_path / "sub" / "x.png", "crack")
    assert gt.class_mask.sum() == 2 and gt.class_names == {1: "crack"}
    split = MaskFolderDataset(tmp_path, "crack")
    assert split.names == ["sub/x"] and split.defect_classes == ("crack",)
    np.testing.assert_array_equal(split.entries[0].ground_truth().class_mask, gt.class_mask)
    with pytest.raises(ImageReadError, match="no image file"):
        split[0]  # no --images folder
    with pytest.raises(FileNotFoundError):
        read_binary_mask(tmp_path / "missing.png", "crack")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot decode"):
        read_binary_mask(tmp_path / "bad.png", "crack")


def _tiny_synthetic(root: Path, value: np.ndarray, params: str | None = '{"camera": {"border_px": 1}}') -> Path:
    """A one-image synthetic layout: classes.json, image, class*1000+instance mask, parameters."""
    base = root / "Synth_WS" / "test"
    for sub in ("images", "masks", "params"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (root / "Synth_WS" / "classes.json").write_text(json.dumps(
        {"defects": ["scratch"], "impurities": ["water_stain"], "ids": {"scratch": 1, "water_stain": 2}}))
    cv2.imwrite(str(base / "images" / "p0.png"), np.full(value.shape, 90, np.uint8))
    cv2.imwrite(str(base / "masks" / "p0.png"), value)
    if params is not None:
        (base / "params" / "p0.json").write_text(params)
    return base


def test_class_instance_mask_and_synthetic_layout(tmp_path):
    value = np.zeros((4, 5), np.uint16)
    value[0, :2] = 1001
    value[2, :2] = 1002
    value[3, 3:] = 2001
    base = _tiny_synthetic(tmp_path, value)
    split = SyntheticDataset(tmp_path, "Synth_WS", "test")
    gt = split.entries[0].ground_truth()
    assert split.impurity_classes == ("water_stain",)
    assert gt.roi.sum() == 2 * 3 and gt.roi[1:3, 1:4].all()
    assert gt.class_mask.tolist()[0][:2] == [1, 1] and gt.instance_mask[2, 0] == 2
    assert split[0].label == "scratch"
    with pytest.raises(ValueError, match="class ids \\[2\\]"):
        read_class_instance_mask(base / "masks" / "p0.png", {1: "scratch"})


def test_class_pixels_with_instance_id_zero_are_rejected(tmp_path):
    value = np.zeros((4, 5), np.uint16)
    value[1, 1:3] = 1000  # class 1, instance 0
    _tiny_synthetic(tmp_path, value)
    with pytest.raises(ValueError, match=r"p0.png has class pixels with instance id 0"):
        SyntheticDataset(tmp_path, "Synth_WS", "test").entries[0].ground_truth()
    value[1, 1:3] = 7  # instance 7 without a class: an 8-bit mask passed as a synthetic one
    _tiny_synthetic(tmp_path, value)
    with pytest.raises(ValueError, match="instance without a class"):
        SyntheticDataset(tmp_path, "Synth_WS", "test")[0]


def test_corrupt_synthetic_params_file_names_the_file(tmp_path):
    value = np.zeros((4, 5), np.uint16)
    _tiny_synthetic(tmp_path, value, params='{"camera": {"border_px": 1')
    split = SyntheticDataset(tmp_path, "Synth_WS", "test")
    with pytest.raises(ValueError, match=r"corrupt parameters file .*params/p0\.json"):
        split.entries[0].ground_truth()
    _tiny_synthetic(tmp_path, value, params='{"camera": {"border_px": "wide"}}')
    with pytest.raises(ValueError, match=r"corrupt parameters file .*p0\.json"):
        split[0]
    (tmp_path / "Synth_WS" / "classes.json").write_text("[1, 2")
    with pytest.raises(ValueError, match=r"corrupt classes file .*classes\.json"):
        SyntheticDataset(tmp_path, "Synth_WS", "test")


def test_magnetic_tile_split_reads_masks_above_127(magnetic_tile_root):
    split = MagneticTileDataset(magnetic_tile_root, "val")
    assert len(split.entries) == 171 and split.defect_classes == ("blowhole", "break", "crack")
    defective = next(i for i in split.entries if i.label == "crack")
    gt = defective.ground_truth()
    raw = cv2.imread(str(magnetic_tile_root / f"{defective.name}.png"), cv2.IMREAD_GRAYSCALE)
    assert gt.class_names == {1: "blowhole", 2: "break", 3: "crack"}
    assert int((gt.class_mask == 3).sum()) == int((raw > 127).sum()) > 0 and gt.class_mask.max() == 3
    nominal = next(i for i in split.entries if i.label == "free")
    assert nominal.ground_truth().class_mask.max() == 0
    with pytest.raises(SplitNotFoundError, match="empty"):
        MagneticTileDataset(magnetic_tile_root, "nope")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".JPG", ".bmp"])
def test_mvtec_layout_names_and_masks_for_any_image_suffix(tmp_path, suffix):
    category = tmp_path / "bottle"
    for kind in ("good", "broken"):
        (category / "test" / kind).mkdir(parents=True)
        cv2.imwrite(str(category / "test" / kind / f"000{suffix}"), np.zeros((6, 7), np.uint8))
    (category / "ground_truth" / "broken").mkdir(parents=True)
    mask = np.zeros((6, 7), np.uint8)
    mask[2:4, 2:5] = 255
    cv2.imwrite(str(category / "ground_truth" / "broken" / "000_mask.png"), mask)
    for split in (MVTecDataset(category, "test"), MVTecDataset(tmp_path, "test", "bottle")):
        assert split.names == ["test/broken/000", "test/good/000"]
        assert split.defect_classes == ("broken",)
        assert split.entries[0].ground_truth().class_mask.sum() == 6
        good = split.entries[1].ground_truth()
        assert good.shape == (6, 7) and good.class_mask.max() == 0


def test_mvtec_validation_folder_is_the_val_split(tmp_path):
    for split, label in (("train", "good"), ("test", "crack"), ("validation", "crack"), ("validation", "good")):
        (tmp_path / split / label).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / split / label / f"{split}1.jpg"), np.zeros((6, 7), np.uint8))
    (tmp_path / "ground_truth" / "crack").mkdir(parents=True)
    mask = np.zeros((6, 7), np.uint8)
    mask[1, 1:4] = 255
    cv2.imwrite(str(tmp_path / "ground_truth" / "crack" / "validation1_mask.png"), mask)
    val = MVTecDataset(tmp_path, "val")
    assert val.names == ["validation/crack/validation1", "validation/good/validation1"]
    assert val.entries[0].ground_truth().class_mask.sum() == 3
    test = MVTecDataset(tmp_path, "test")
    assert test.entries[0].ground_truth() is None  # a defect without a mask file: no annotation
    assert test.entries[0].annotation_path is None


def test_mvtec_root_without_test_folder_is_a_clear_error(tmp_path):
    (tmp_path / "bottle" / "train" / "good").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "bottle" / "train" / "good" / "0.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(SplitNotFoundError, match=r"bottle/test not found: is .*bottle an MVTec AD category folder"):
        MVTecDataset(tmp_path / "bottle", "test")
    with pytest.raises(FileNotFoundError, match=r"categories \['bottle'\]: pass one with --category"):
        MVTecDataset(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="category folder not found"):
        MVTecDataset(tmp_path, "test", "cable")
    with pytest.raises(ValueError, match="split must be one of"):
        MVTecDataset(tmp_path / "bottle", "holdout")


@pytest.mark.parametrize("image_ref", ["../outside.png", "/etc/passwd", "sub/../../x.png", "..\\\\x.png"])
def test_labelme_image_path_outside_the_annotation_folder_is_refused(tmp_path, image_ref):
    root = tmp_path / "annotations"
    root.mkdir()
    cv2.imwrite(str(tmp_path / "outside.png"), np.zeros((20, 30), np.uint8))
    doc = json.loads(FIXTURE.read_text()) | {"imagePath": image_ref}
    (root / "plate.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="points outside the annotation folder"):
        LabelMeDataset(root, LABELS, ["scratch", "dent"], ["water_stain"])


def test_labelme_image_path_into_a_sibling_folder_inside_the_root_is_fine(tmp_path):
    (tmp_path / "json").mkdir()
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "plate.png"), np.full((20, 30), 7, np.uint8))
    doc = json.loads(FIXTURE.read_text()) | {"imagePath": "../images/plate.png"}
    (tmp_path / "json" / "plate.json").write_text(json.dumps(doc))
    split = LabelMeDataset(tmp_path, LABELS, ["scratch", "dent"], ["water_stain"])
    assert split[0].image.max() == 7


def test_labelme_embedded_image_data_is_used_when_the_file_is_missing(tmp_path):
    import base64

    image = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    encoded = base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode()
    doc = json.loads(FIXTURE.read_text()) | {"imagePath": "missing.png", "imageData": encoded}
    (tmp_path / "plate.json").write_text(json.dumps(doc))
    split = LabelMeDataset(tmp_path, LABELS, ["scratch", "dent"], ["water_stain"])
    assert split.entries[0].image_path is None
    np.testing.assert_array_equal(split[0].image, image)
    doc["imageData"] = "not base64!"
    (tmp_path / "plate.json").write_text(json.dumps(doc))
    with pytest.raises(ImageReadError, match="imageData is not base64"):
        LabelMeDataset(tmp_path, LABELS, ["scratch", "dent"], ["water_stain"], on_error="raise")[0]
