"""The single image/mask reader and the single magnetic-tile table reader: values, checks, errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from seqcore.data.formats.magnetic_tile import read_magnetic_tile_table
from seqcore.data.images import ImageReadError, image_size, read_mask


def test_read_mask_keeps_16_bit_values_and_expands_palette(tmp_path):
    value = np.array([[0, 1001, 2003]], np.uint16)
    Image.fromarray(value).save(tmp_path / "deep.png")
    mask = read_mask(tmp_path / "deep.png")
    assert mask.dtype == np.uint16 and mask.tolist() == value.tolist()
    palette = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.save(tmp_path / "palette.png")
    assert read_mask(tmp_path / "palette.png").tolist() == [[0, 255]]


def test_read_mask_rejects_colour_masks_and_names_the_file(tmp_path):
    grey = np.zeros((2, 3, 3), np.uint8)
    grey[0, 0] = 255
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert read_mask(tmp_path / "grey.png").tolist() == [[255, 0, 0], [0, 0, 0]]
    grey[1, 1, 2] = 9
    Image.fromarray(grey).save(tmp_path / "colour.png")
    with pytest.raises(ImageReadError, match="colour.png: its colour channels differ"):
        read_mask(tmp_path / "colour.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_mask(tmp_path / "missing.png")


def test_image_size_reads_the_header(tmp_path):
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(tmp_path / "a.png")
    assert image_size(tmp_path / "a.png") == (5, 7)
    (tmp_path / "b.png").write_bytes(b"junk")
    with pytest.raises(ImageReadError, match="b.png"):
        image_size(tmp_path / "b.png")


def test_magnetic_tile_table_names_classes_and_errors(tmp_path, magnetic_tile_root):
    rows, defects = read_magnetic_tile_table(magnetic_tile_root, "test")
    assert defects == ("blowhole", "break", "crack")
    row = next(r for r in rows if r.label == "crack")
    assert row.name.startswith("MT_Crack/Imgs/") and not row.name.endswith(".jpg")
    assert row.image_path == magnetic_tile_root / f"{row.name}.jpg" and row.mask_path.suffix == ".png"
    with pytest.raises(FileNotFoundError, match="split.csv not found"):
        read_magnetic_tile_table(tmp_path, "test")
    with pytest.raises(ValueError, match=r"'holdout' is empty .*\['test', 'train', 'val'\]"):
        read_magnetic_tile_table(magnetic_tile_root, "holdout")
    shutil.copy(magnetic_tile_root / "split.csv", tmp_path / "split.csv")
    with (tmp_path / "split.csv").open("a") as handle:
        handle.write("MT_Dust/Imgs/x.jpg,dust,train\n")
    with pytest.raises(ValueError, match="unknown class 'dust'"):
        read_magnetic_tile_table(tmp_path, "val")
