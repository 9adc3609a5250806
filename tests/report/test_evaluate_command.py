"""`seqcore evaluate` end to end on small datasets of every layout given as `--dataset KIND ROOT`."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore.cli import main
from seqcore.data import read_binary_mask

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
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "masks",
               str(tmp_path / "masks"), "--class-name", "scratch", "--min-area", "4"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "optimistic" in metrics["details"]["threshold source"]
    assert metrics["R_DW"] == {"scratch": 1.0} and metrics["min_area"] == 4
    assert "F1_PX" in capsys.readouterr().out


def test_threshold_rule_on_itself_is_reported(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "masks").mkdir()
    for i in range(4):
        mask = np.zeros((20, 24), np.uint8)
        if i:
            mask[5 + i : 9 + i, 4:12] = 255
        cv2.imwrite(str(tmp_path / "masks" / f"m{i}.png"), mask)
        _save_map(tmp_path / "pred", f"m{i}", _map_like(mask > 127, rng))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "masks",
               str(tmp_path / "masks"), "--class-name", "scratch", "--threshold-rule", "recall-at-false-calls:0"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "recall-at-false-calls:0" in metrics["details"]["threshold source"]
    good_max = float(np.load(tmp_path / "pred" / "maps" / "m0.npy").max())
    assert metrics["threshold"] > good_max
    assert not (tmp_path / "out" / "report.html").exists()
    assert main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "masks",
                 str(tmp_path / "masks"), "--class-name", "scratch", "--html", "--pixel-size", "0.1"]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert data["good_area_m2"] == pytest.approx(20 * 24 * 0.1**2 / 1e6) and "data:image/png;base64," in page
    assert main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "mm"), "--dataset", "masks",
                 str(tmp_path / "masks"), "--class-name", "scratch", "--pixel-size", "0.1",
                 "--min-area-mm2", "0.05"]) == 0
    metrics = json.loads((tmp_path / "mm" / "metrics.json").read_text())
    assert metrics["min_area"] == 5 and metrics["details"]["minimum area"] == "0.05 mm² = 5 px"


def test_labelme_folder_with_impurities(tmp_path):
    (tmp_path / "ann").mkdir()
    shutil.copy(FIXTURE, tmp_path / "ann" / "plate.json")
    label_map = {"scratch": "scratch", "Scratch": "scratch", "dent": "dent", "stain": "water_stain"}
    (tmp_path / "labels.json").write_text(json.dumps(label_map))
    _save_map(tmp_path / "pred", "plate", np.zeros((20, 30)) + np.eye(20, 30))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "labelme",
               str(tmp_path / "ann"),
               "--label-map", str(tmp_path / "labels.json"), "--impurities", "water_stain", "--threshold", "0.5"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["classes"] == {"defects": ["dent", "scratch"], "impurities": ["water_stain"]}
    assert metrics["instances"] == {"dent": 1, "scratch": 4, "water_stain": 2}


def test_missing_or_mismatched_maps_fail_with_a_clear_message(tmp_path, capsys):
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "masks" / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "pred" / "maps").mkdir(parents=True)
    args = ["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "masks",
            str(tmp_path / "masks"), "--threshold", "0.5"]
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
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "magnetic-tile", str(root),
               "--split", "test", "--overlays", "2"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["counts"]["images"] == 8 and metrics["counts"]["anomalous_images"] == 6
    assert metrics["image_auroc"] is not None and metrics["R_DW"]["crack"] is not None
    assert len(list((tmp_path / "out" / "overlays").glob("*.png"))) == 2


def test_synthetic_defaults_on_real_synth_output(tmp_path):
    data = tmp_path / "syn"
    assert main(["synth", str(data), "--train", "1", "--val", "2", "--test", "2", "--size", "64", "64",
                 "--no-light-variants", "--defective-fraction", "1"]) == 0
    rng = np.random.default_rng(2)
    for split in ("val", "test"):
        for mask_path in sorted((data / "Synth_WS" / split / "masks").glob("*.png")):
            value = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
            _save_map(tmp_path / "pred", mask_path.stem, _map_like(np.isin(value // 1000, (1, 2, 3)), rng))
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "synthetic", str(data)])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    classes = json.loads((data / "Synth_WS" / "classes.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["details"]["dataset"] == "synthetic Synth_WS, split 'test'"
    assert metrics["classes"] == {"defects": classes["defects"], "impurities": classes["impurities"]}
    assert metrics["counts"]["images"] == 2 and metrics["counts"]["anomalous_images"] == 2
    assert metrics["mR_DW"] is not None and metrics["mR_DW"] > 0.5


def _mvtec_jpg(root: Path, rng: np.random.Generator, pred: Path) -> None:
    """An MVTec AD category of .jpg images (test/ and validation/) with maps that find every defect."""
    for split in ("test", "validation"):
        for label in ("good", "crack"):
            for k in range(2):
                image = (root / split / label / f"{split[0]}{k}.jpg")
                image.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(image), np.full((24, 20), 80, np.uint8))
                defect = np.zeros((24, 20), bool)
                if label == "crack":
                    defect[4 + 6 * k : 8 + 6 * k, 3:15] = True
                    (root / "ground_truth" / label).mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(root / "ground_truth" / label / f"{split[0]}{k}_mask.png"),
                                defect.astype(np.uint8) * 255)
                _save_map(pred, f"{split}/{label}/{split[0]}{k}", _map_like(defect, rng))


def test_mvtec_folder_of_jpg_evaluates_with_the_validation_threshold(tmp_path):
    _mvtec_jpg(tmp_path / "kolektor", np.random.default_rng(3), tmp_path / "pred")
    rc = main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "mvtec",
               str(tmp_path / "kolektor"), "--overlays", "3"])
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["counts"]["images"] == 4 and metrics["counts"]["anomalous_images"] == 2
    assert metrics["instances"] == {"crack": 2} and metrics["R_DW"] == {"crack": 1.0}
    assert len(list((tmp_path / "out" / "overlays").glob("*.png"))) == 3


def test_tau_cov_counts_only_instances_covered_beyond_it(tmp_path):
    (tmp_path / "masks").mkdir()
    mask = np.zeros((20, 20), np.uint8)
    mask[2:6, 2:12] = 255  # 40 px, the map covers 30 % of it
    mask[12:16, 2:12] = 255  # 40 px, the map covers 80 % of it
    cv2.imwrite(str(tmp_path / "masks" / "m.png"), mask)
    score = np.zeros((20, 20))
    score[2:6, 2:5] = 1.0
    score[12:16, 2:10] = 1.0
    _save_map(tmp_path / "pred", "m", score)
    recalls = {}
    for tau in ("0", "0.5", "0.9"):
        out = tmp_path / f"out{tau}"
        assert main(["evaluate", str(tmp_path / "pred"), "-o", str(out), "--dataset", "masks", str(tmp_path / "masks"),
                     "--threshold", "0.5", "--tau-cov", tau]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["tau_cov"] == float(tau)
        recalls[tau] = metrics["R_DW"]["defect"]
    assert recalls == {"0": 1.0, "0.5": 0.5, "0.9": 0.0}


def test_masks_with_an_images_folder_draws_overlays(tmp_path):
    rng = np.random.default_rng(4)
    for i in range(3):
        mask = np.zeros((16, 18), np.uint8)
        mask[3 + i : 7 + i, 4:10] = 255
        (tmp_path / "masks").mkdir(exist_ok=True)
        (tmp_path / "images").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "masks" / f"p{i}.png"), mask)
        cv2.imwrite(str(tmp_path / "images" / f"p{i}.jpg"), np.full((16, 18), 120, np.uint8))
        _save_map(tmp_path / "pred", f"p{i}", _map_like(mask > 127, rng))
    args = ["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "masks",
            str(tmp_path / "masks"), "--overlays", "2"]
    assert main(args) == 0
    assert not (tmp_path / "out" / "overlays").exists() or not any((tmp_path / "out" / "overlays").iterdir())
    assert main(args + ["--images", str(tmp_path / "images"), "-o", str(tmp_path / "out2")]) == 0
    assert len(list((tmp_path / "out2" / "overlays").glob("*.png"))) == 2


def test_evaluate_needs_a_dataset(tmp_path, capsys):
    (tmp_path / "pred" / "maps").mkdir(parents=True)
    assert main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out")]) == 2
    assert "--dataset KIND ROOT" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "out"), "--dataset", "coco", "x"]) == 2
    assert "unknown dataset kind 'coco'" in capsys.readouterr().err
