"""Datasets (folder, MVTec AD, magnetic tile) and robust image reading."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from seqcore.data import FolderDataset, ImageReadError, MagneticTileDataset, MVTecDataset, open_dataset, read_image


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
    train = MVTecDataset(tmp_path, "bottle", "train")
    assert [s.label for s in train] == ["good"]
    test = MVTecDataset(tmp_path, "bottle", "test")
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


def test_open_dataset_dispatch(tmp_path):
    _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    assert len(open_dataset("folder", tmp_path)) == 1
    with pytest.raises(ValueError, match="unknown dataset kind"):
        open_dataset("coco", tmp_path)
    with pytest.raises(ValueError, match="category"):
        open_dataset("mvtec", tmp_path)
