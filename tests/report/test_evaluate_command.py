"""`seqcore evaluate` end to end on small folders (masks, LabelMe, a slice of the magnetic-tile data)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore.cli import main
from seqcore.data.annotations import read_binary_mask

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "labelme_plate.json"


def _save_map(predictions: Path, name: str, score_map: np.ndarray) -> None:
    path = predictions / "maps" / f"{name}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, score_map.astype(np.float32))


def _map_like(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2) + 0.2 * rng.random(mask.shape)


def test_masks_folder_threshold_on_itself_is_flagged_optimistic(tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "masks").mkdir()
    for i in range(3):
        mask = np.zeros((20, 24), np.uint8)
        mask[5 + i : 9 + i, 4:12] = 255
        cv2.imwrite(str(tmp_path / "masks" / f"m{i}.png"), mask)
        _save_map(tmp_path / "pred", f"m{i}", _map_like(mask > 127, rng))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--masks", str(tmp_path / "masks"),
               "--class-name", "scratch", "--min-area", "4"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "optimistic" in metrics["details"]["threshold source"]
    assert metrics["R_DW"] == {"scratch": 1.0} and metrics["min_area"] == 4
    assert "F1_PX" in capsys.readouterr().out


def test_labelme_folder_with_impurities(tmp_path):
    (tmp_path / "ann").mkdir()
    shutil.copy(FIXTURE, tmp_path / "ann" / "plate.json")
    label_map = {"scratch": "scratch", "Scratch": "scratch", "dent": "dent", "stain": "water_stain"}
    (tmp_path / "labels.json").write_text(json.dumps(label_map))
    _save_map(tmp_path / "pred", "plate", np.zeros((20, 30)) + np.eye(20, 30))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--labelme", str(tmp_path / "ann"),
               "--label-map", str(tmp_path / "labels.json"), "--impurities", "water_stain", "--threshold", "0.5"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["classes"] == {"defects": ["dent", "scratch"], "impurities": ["water_stain"]}
    assert metrics["instances"] == {"dent": 1, "scratch": 4, "water_stain": 2}


def test_missing_or_mismatched_maps_fail_with_a_clear_message(tmp_path, capsys):
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "masks" / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "pred" / "maps").mkdir(parents=True)
    args = ["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--masks", str(tmp_path / "masks"),
            "--threshold", "0.5"]
    assert main(args) == 2
    assert "1 of 1 maps missing" in capsys.readouterr().err
    _save_map(tmp_path / "pred", "a", np.zeros((8, 9)))
    assert main(args) == 2
    assert "differs from ground truth shape" in capsys.readouterr().err


@pytest.mark.slow
def test_magnetic_tile_slice_threshold_from_val_and_overlays(tmp_path, magnetic_tile_root):
    with (magnetic_tile_root / "split.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = []
    for split in ("val", "test"):
        for cls in ("free", "blowhole", "crack", "break"):
            picked += [r for r in rows if r["split"] == split and r["class"] == cls][:2]
    root = tmp_path / "mt"
    rng = np.random.default_rng(1)
    for row in picked:
        for suffix in (".jpg", ".png"):
            src = (magnetic_tile_root / row["image"]).with_suffix(suffix)
            dst = (root / row["image"]).with_suffix(suffix)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
        name = str(Path(row["image"]).with_suffix(""))
        gt = read_binary_mask(root / f"{name}.png", "x")
        defect = gt.class_mask > 0 if row["class"] != "free" else np.zeros(gt.shape, bool)
        _save_map(tmp_path / "pred", name, _map_like(defect, rng))
    with (root / "split.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "class", "split"])
        writer.writeheader()
        writer.writerows(picked)
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset-root", str(root),
               "--split", "test", "--overlays", "2"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["counts"]["images"] == 8 and metrics["counts"]["anomalous_images"] == 6
    assert metrics["image_auroc"] is not None and metrics["R_DW"]["crack"] is not None
    assert len(list((tmp_path / "out" / "overlays").glob("*.png"))) == 2


def test_synthetic_layout_with_impurities_thresholds_on_val_maps(tmp_path):
    base = tmp_path / "syn" / "synth_ws"
    base.mkdir(parents=True)
    (base / "classes.json").write_text(json.dumps(
        {"defects": ["scratch"], "impurities": ["water_stain"], "ids": {"scratch": 1, "water_stain": 2}}))
    rng = np.random.default_rng(2)
    for split in ("val", "test"):
        (base / split / "masks").mkdir(parents=True)
        for i in range(3):
            value = np.zeros((16, 20), np.uint16)
            value[2 + i, 2:12] = 1001
            value[9:14, 9:15] = 2001
            cv2.imwrite(str(base / split / "masks" / f"{split}_{i:04d}.png"), value)
            _save_map(tmp_path / "pred", f"{split}_{i:04d}", _map_like(value == 1001, rng))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--synthetic", str(tmp_path / "syn"),
               "--split", "test"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["instances"] == {"scratch": 3, "water_stain": 3}
    assert "water_stain ↓" in (tmp_path / "out" / "report.md").read_text()
