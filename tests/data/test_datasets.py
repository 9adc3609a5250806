"""Datasets of every layout behind open_dataset, and robust image reading."""
from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seqcore.data import (
    DATASET_KINDS,
    FolderDataset,
    ImageReadError,
    MagneticTileDataset,
    MVTecDataset,
    Sample,
    open_dataset,
    read_image,
)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def folder_with_corrupt(tmp_path):
    rng = np.random.default_rng(0)
    _save(tmp_path / "a.png", (rng.random((20, 30)) * 255).astype(np.uint8))
    _save(tmp_path / "sub" / "b.jpg", (rng.random((20, 30, 3)) * 255).astype(np.uint8))
    (tmp_path / "garbage.png").write_bytes(b"not an image at all")
    good = tmp_path / "sub" / "b.jpg"
    (tmp_path / "truncated.jpg").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    return tmp_path


def test_folder_dataset_skips_and_reports_corrupt_images(folder_with_corrupt):
    ds = FolderDataset(folder_with_corrupt)
    assert len(ds) == 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = list(ds)
    assert [s.name for s in samples] == ["a", "sub/b"]
    assert samples[0].image.shape == (20, 30) and samples[1].image.shape == (20, 30, 3)
    assert {e.path.name for e in ds.skipped} == {"garbage.png", "truncated.jpg"}
    assert any("garbage.png" in str(w.message) for w in caught)


def test_folder_dataset_can_raise_instead(folder_with_corrupt):
    ds = FolderDataset(folder_with_corrupt, on_error="raise")
    with pytest.raises(ImageReadError, match="garbage.png"):
        list(ds)


def test_read_image_errors_name_the_path(tmp_path):
    with pytest.raises(ImageReadError, match="missing.png.*not found"):
        read_image(tmp_path / "missing.png")
    _save(tmp_path / "x.png", np.full((4, 5), 7, np.uint8))
    assert read_image(tmp_path / "x.png", "rgb").shape == (4, 5, 3)


def test_sixteen_bit_images_scale_to_uint8(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((3, 3), 65535, np.uint16)).save(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.max() == 255


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        FolderDataset(tmp_path)
    with pytest.raises(FileNotFoundError):
        FolderDataset(tmp_path / "nope")


def test_mvtec_layout(tmp_path):
    cat = tmp_path / "bottle"
    _save(cat / "train" / "good" / "000.png", np.zeros((8, 8), np.uint8))
    _save(cat / "test" / "good" / "000.png", np.zeros((8, 8), np.uint8))
    _save(cat / "test" / "broken" / "000.png", np.zeros((8, 8), np.uint8))
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:5] = 255
    _save(cat / "ground_truth" / "broken" / "000_mask.png", mask)
    train = MVTecDataset(tmp_path, "train", "bottle")
    assert [s.label for s in train] == ["good"]
    test = MVTecDataset(tmp_path, "test", "bottle")
    assert test.defect_classes == ("broken",)
    broken = next(s for s in test if s.label == "broken")
    assert broken.name == "test/broken/000"
    assert broken.gt.class_mask.sum() == 6 and broken.gt.class_names == {1: "broken"}
    assert next(s for s in test if s.label == "good").gt.class_mask.max() == 0


def test_magnetic_tile_splits(magnetic_tile_root):
    assert len(MagneticTileDataset(magnetic_tile_root, "train")) == 652
    val = MagneticTileDataset(magnetic_tile_root, "val")
    assert len(val) == 171
    assert val.defect_classes == ("blowhole", "break", "crack")
    crack = next(i for i, e in enumerate(val.entries) if e.label == "crack")
    sample = val[crack]
    assert sample.image.ndim == 2 and sample.gt.shape == sample.image.shape
    assert (sample.gt.class_mask == 3).any() and set(np.unique(sample.gt.class_mask)) <= {0, 3}
    with pytest.raises(ValueError, match="split"):
        MagneticTileDataset(magnetic_tile_root, "holdout")


def _mask(shape, box) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[box] = 255
    return mask


def _magnetic_tile(root, rows, shape=(8, 9), box=(slice(2, 4), slice(3, 6))) -> None:
    """A magnetic-tile layout: split.csv and for each row a .jpg with its .png mask (defect at ``box``)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "split.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "class", "split"])
        writer.writerows(rows)
    for image, cls, _ in rows:
        _save(root / image, np.full(shape, 100, np.uint8))
        _save((root / image).with_suffix(".png"), _mask(shape, box if cls != "free" else (slice(0, 0),)))


def test_magnetic_tile_table_with_all_five_public_classes(tmp_path):
    classes = ["blowhole", "break", "crack", "fray", "uneven"]
    rows = [[f"MT_{c.title()}/Imgs/{c}_{s}.jpg", c, s] for c in classes for s in ("val", "test")]
    rows += [["MT_Free/Imgs/free_0.jpg", "free", "train"], ["MT_Free/Imgs/free_1.jpg", "free", "test"]]
    _magnetic_tile(tmp_path, rows)
    test = MagneticTileDataset(tmp_path, "test")
    assert test.defect_classes == tuple(classes) and len(test) == 6
    for entry in test.entries[:-1]:
        gt = entry.ground_truth()
        cid = classes.index(entry.label) + 1
        assert gt.class_names[cid] == entry.label and gt.class_mask.sum() == 6 * cid
    fray = next(s for s in test if s.label == "fray")
    assert fray.name == "MT_Fray/Imgs/fray_test" and set(np.unique(fray.gt.class_mask)) == {0, 4}
    assert [s.label for s in MagneticTileDataset(tmp_path, "train")] == ["free"]


def _every_kind(tmp_path) -> dict[str, tuple[dict, list[str], tuple[str, ...]]]:
    """One tiny dataset per kind: open_dataset arguments, expected names and defect classes."""
    box = (slice(1, 3), slice(2, 5))
    _save(tmp_path / "folder" / "a.png", np.zeros((6, 7), np.uint8))
    _save(tmp_path / "mvtec" / "test" / "good" / "0.jpg", np.zeros((6, 7), np.uint8))
    _save(tmp_path / "mvtec" / "test" / "dent" / "1.jpg", np.zeros((6, 7), np.uint8))
    _save(tmp_path / "mvtec" / "ground_truth" / "dent" / "1_mask.png", _mask((6, 7), box))
    _magnetic_tile(tmp_path / "mt", [["MT_Crack/Imgs/c.jpg", "crack", "test"], ["MT_Free/Imgs/f.jpg", "free", "test"]],
                   (6, 7), box)
    syn = tmp_path / "syn" / "Synth_WS"
    (syn / "test" / "images").mkdir(parents=True)
    (syn / "test" / "masks").mkdir()
    (syn / "classes.json").write_text(json.dumps({"defects": ["dent"], "impurities": [], "ids": {"dent": 1}}))
    cv2.imwrite(str(syn / "test" / "images" / "s.png"), np.zeros((6, 7), np.uint8))
    value = np.zeros((6, 7), np.uint16)
    value[box] = 1001
    cv2.imwrite(str(syn / "test" / "masks" / "s.png"), value)
    _save(tmp_path / "masks" / "m.png", _mask((6, 7), box))
    _save(tmp_path / "images" / "m.jpg", np.zeros((6, 7), np.uint8))
    lm = tmp_path / "lm"
    _save(lm / "p.png", np.zeros((6, 7), np.uint8))
    (lm / "p.json").write_text(json.dumps({"imagePath": "p.png", "imageHeight": 6, "imageWidth": 7, "shapes": [
        {"label": "D", "shape_type": "rectangle", "points": [[2, 1], [4, 2]]}]}))
    return {
        "folder": ({"root": tmp_path / "folder"}, ["a"], ()),
        "mvtec": ({"root": tmp_path / "mvtec", "split": "test"}, ["test/dent/1", "test/good/0"], ("dent",)),
        "magnetic-tile": ({"root": tmp_path / "mt", "split": "test"}, ["MT_Crack/Imgs/c", "MT_Free/Imgs/f"],
                          ("crack",)),
        "synthetic": ({"root": tmp_path / "syn", "split": "test"}, ["s"], ("dent",)),
        "masks": ({"root": tmp_path / "masks", "images": tmp_path / "images", "class_name": "dent"}, ["m"],
                  ("dent",)),
        "labelme": ({"root": lm, "label_map": {"D": "dent"}}, ["p"], ("dent",)),
    }


def test_open_dataset_reads_every_kind(tmp_path):
    cases = _every_kind(tmp_path)
    assert set(cases) == set(DATASET_KINDS)
    for kind, (kwargs, names, defects) in cases.items():
        ds = open_dataset(kind, **kwargs)
        assert ds.names == names and ds.defect_classes == defects, kind
        samples = list(ds)
        assert all(isinstance(s, Sample) and s.image.shape[:2] == (6, 7) for s in samples), kind
        defective = [s.gt.class_mask > 0 for s in samples if s.gt.class_mask.any()]
        expected = _mask((6, 7), (slice(1, 3), slice(2, 5))) > 0
        assert all(np.array_equal(d, expected) for d in defective), kind
        assert len(defective) == (0 if kind == "folder" else 1), kind


def test_ground_truth_loads_lazily(tmp_path):
    kwargs, _, _ = _every_kind(tmp_path)["mvtec"]
    ds = open_dataset("mvtec", **kwargs)
    (tmp_path / "mvtec" / "ground_truth" / "dent" / "1_mask.png").unlink()
    sample = ds[0]  # the image decodes without touching its annotation
    assert sample.image.shape == (6, 7)
    with pytest.raises(ImageReadError, match="1_mask.png: file not found"):
        _ = sample.gt


def test_open_dataset_dispatch(tmp_path):
    _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    assert len(open_dataset("folder", tmp_path)) == 1
    with pytest.raises(ValueError, match="unknown dataset kind"):
        open_dataset("coco", tmp_path)
    with pytest.raises(ValueError, match="label map"):
        open_dataset("labelme", tmp_path)
    with pytest.raises(FileNotFoundError, match="no variant 'Synth_WS'"):
        open_dataset("synthetic", tmp_path)


@pytest.mark.slow
def test_kolektorsdd_reads_as_mvtec_with_a_validation_split():
    root = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kolektorsdd"
    if not root.is_dir():
        pytest.skip(f"KolektorSDD not found at {root}")
    counts = {split: {label: sum(e.label == label for e in open_dataset("mvtec", root, split).entries)
                      for label in ("good", "crack")} for split in ("train", "val", "test")}
    assert counts == {"train": {"good": 247, "crack": 0}, "val": {"good": 30, "crack": 20},
                      "test": {"good": 70, "crack": 32}}
    test = open_dataset("mvtec", root, "test")
    assert all(e.annotation_path is not None for e in test.entries if e.label == "crack")
    crack = next(e for e in test.entries if e.label == "crack")
    gt = crack.ground_truth()
    assert gt.shape == read_image(crack.image_path).shape[:2] and gt.class_mask.any()
