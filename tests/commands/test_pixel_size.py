"""Pixel size in the model file: `train --pixel-size` stores it, predict and evaluate use it when not given."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seqcore import load_model
from seqcore.cli import main


def _surface(seed: int, defect: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    image = 120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 2, (64, 64))
    if defect:
        image[24:36, 26:38] = 250
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture(scope="module")
def mvtec(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec") / "plate"
    mask = np.zeros((64, 64), np.uint8)
    mask[24:36, 26:38] = 255
    for k in range(3):
        _save(root / "train" / "good" / f"{k:03d}.png", _surface(k))
    _save(root / "validation" / "good" / "g0.png", _surface(10))
    _save(root / "validation" / "crack" / "c0.png", _surface(11, defect=True))
    _save(root / "ground_truth" / "crack" / "c0_mask.png", mask)
    return root


def test_pixel_size_travels_from_train_to_predict_and_evaluate(mvtec, tmp_path):
    model = tmp_path / "m.safetensors"
    assert main(["train", "--dataset", "mvtec", str(mvtec), "--val", "val", "--out", str(model), "--capacity", "16",
                 "--epochs", "1", "--blur-sigma", "2", "--pixel-size", "0.05"]) == 0
    assert load_model(model)[1]["pixel_size_mm"] == 0.05
    pred = tmp_path / "pred"
    assert main(["predict", str(model), "--dataset", "mvtec", str(mvtec), "--split", "val", "--out", str(pred),
                 "--no-overlays"]) == 0
    scores = json.loads((pred / "scores.json").read_text())
    assert scores["pixel_size_mm"] == 0.05
    found = [d for rows in scores["defects"].values() for d in rows]
    assert found, "the bright square is above the F1 threshold"
    for d in found:
        assert d["area_mm2"] == pytest.approx(d["area_px"] * 0.0025)
    total = sum(d["area_px"] for rows in scores["defects"].values() for d in rows)
    maps = [np.load(p) for p in (pred / "maps").rglob("*.npy")]
    assert total == sum(int((m >= scores["threshold"]).sum()) for m in maps)  # components partition the pixels
    out = tmp_path / "eval"
    assert main(["evaluate", str(pred), "-o", str(out), "--dataset", "mvtec", str(mvtec), "--split", "val",
                 "--min-area-mm2", "0.01"]) == 0
    details = json.loads((out / "metrics.json").read_text())["details"]
    assert details["pixel size"].startswith("0.05 mm") and details["minimum area"] == "0.01 mm² = 4 px"
    assert main(["predict", str(model), "--dataset", "mvtec", str(mvtec), "--split", "val", "--out",
                 str(tmp_path / "p2"), "--no-overlays", "--pixel-size", "0.1"]) == 0
    assert json.loads((tmp_path / "p2" / "scores.json").read_text())["pixel_size_mm"] == 0.1


def test_bad_pixel_size_fails_before_the_fit(mvtec, tmp_path, capsys):
    out = ["--out", str(tmp_path / "m.safetensors")]
    assert main(["train", "--dataset", "mvtec", str(mvtec), *out, "--pixel-size", "0"]) == 2
    assert "--pixel-size" in capsys.readouterr().err
    assert main(["train", "--dataset", "mvtec", str(mvtec), *out, "--pixel-size", "0.1", "--method", "simplenet"]) == 2
    assert "PatchCore" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()
