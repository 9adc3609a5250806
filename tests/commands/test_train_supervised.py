"""``seqcore train --method fcn`` on a tiny MVTec layout, then ``predict`` and ``evaluate`` unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("segmentation_models_pytorch", reason="the supervised extra (segmentation-models-pytorch)")

from seqcore.cli import main  # noqa: E402

TINY = ["--epochs", "1", "--lr", "1e-3", "--crop-size", "64", "--crops-per-epoch", "8", "--batch-size", "4"]


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _surface(seed: int, defect: bool) -> np.ndarray:
    image = np.random.default_rng(seed).integers(90, 130, (64, 64)).astype(np.uint8)
    if defect:
        image[24:36, 26:38] = 250
    return image


@pytest.fixture(scope="module")
def mvtec(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec") / "plate"
    mask = np.zeros((64, 64), np.uint8)
    mask[24:36, 26:38] = 255
    for split, offset in (("validation", 10), ("test", 20)):
        for k in range(2):
            _save(root / split / "good" / f"{split[0]}{k}.png", _surface(offset + k, False))
            _save(root / split / "crack" / f"{split[0]}{k}.png", _surface(offset + 5 + k, True))
            _save(root / "ground_truth" / "crack" / f"{split[0]}{k}_mask.png", mask)
    (root / "train" / "good").mkdir(parents=True)
    return root


def test_train_fcn_then_predict_and_evaluate(mvtec, tmp_path, capsys):
    model = tmp_path / "fcn.safetensors"
    assert main(["train", "--method", "fcn", "--dataset", "mvtec", str(mvtec), "--split", "test",
                 "--val", "validation", "--out", str(model), *TINY]) == 0
    assert "threshold (max pixel F1 on validation)" in capsys.readouterr().out
    pred = tmp_path / "pred"
    assert main(["predict", str(model), "--dataset", "mvtec", str(mvtec), "--out", str(pred), "--no-overlays"]) == 0
    scores = json.loads((pred / "scores.json").read_text())
    assert scores["threshold"] is not None and len(scores["images"]) == 4
    assert main(["evaluate", str(pred), "-o", str(tmp_path / "report"), "--dataset", "mvtec", str(mvtec),
                 "--threshold", str(scores["threshold"])]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert 0.0 <= metrics["f1"] <= 1.0
