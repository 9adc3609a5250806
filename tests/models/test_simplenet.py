"""SimpleNet: the loss against its definition, seeded training, ROI-limited patches, localisation,
save/load round trips with metadata validation, and ``seqcore train --method simplenet`` + predict/evaluate."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from seqcore.features import FeatureConfig
from seqcore.io import ModelFileError, load_model, save_model
from seqcore.models import load_method, method_class
from seqcore.models.simplenet import SimpleNet, SimpleNetConfig
from seqcore.models.simplenet.networks import truncated_l1

FEATURES = FeatureConfig(pretrained=False, resize_short_side=None, pool_kernel=3)
FAST = SimpleNetConfig(epochs=3, batch_size=256, patches_per_image=None)


def _surface(seed: int, defect: bool = False) -> np.ndarray:
    image = np.random.default_rng(seed).integers(100, 120, (64, 64)).astype(np.uint8)
    if defect:
        image[24:40, 24:40] = 255
    return image


@pytest.fixture(scope="module")
def fitted() -> SimpleNet:
    model = SimpleNet(FEATURES, hidden=64, seed=3)
    model.fit([_surface(k) for k in range(6)], FAST, progress=False, threads=1)
    return model


def test_truncated_l1_matches_its_definition():
    true, fake = torch.tensor([1.0, 0.2, -0.4]), torch.tensor([-1.0, 0.0, 0.7])
    expected = np.mean([0.0, 0.3, 0.9]) + np.mean([0.0, 0.5, 1.2])
    assert float(truncated_l1(true, fake, 0.5)) == pytest.approx(expected)


def test_registered_and_seeded(fitted):
    assert method_class("simplenet") is SimpleNet
    again = SimpleNet(FEATURES, hidden=64, seed=3)
    again.fit([_surface(k) for k in range(6)], FAST, progress=False, threads=1)
    for a, b in zip(fitted._tensors().values(), again._tensors().values(), strict=True):
        assert torch.equal(a, b)
    assert fitted.history == again.history and len(fitted.history[0]["losses"]) == 3


def test_training_patches_respect_roi_and_cap():
    model = SimpleNet(FEATURES, hidden=8)
    roi = np.zeros((64, 64), bool)
    roi[:, :32] = True  # the left half of an 8x8 patch grid: 32 cells
    assert len(model.training_patches([(_surface(0), roi)], None, progress=False)) == 32
    assert len(model.training_patches([_surface(0), _surface(1)], 10, progress=False)) == 20
    with pytest.raises(ValueError, match="no patch"):
        model.training_patches([(_surface(0), np.zeros((64, 64), bool))], None, progress=False)


def test_defect_scores_above_nominal(fitted):
    nominal = [fitted.predict(_surface(100 + k)).score for k in range(3)]
    defect = fitted.predict(_surface(200, defect=True))
    assert defect.score > max(nominal)
    assert defect.anomaly_map.shape == (64, 64)
    y, x = np.unravel_index(np.argmax(defect.anomaly_map), defect.anomaly_map.shape)
    assert 16 <= y < 48 and 16 <= x < 48  # the peak lies on (or next to) the bright square


def test_roi_limits_score(fitted):
    image = _surface(200, defect=True)
    roi = np.zeros((64, 64), bool)
    roi[:, 48:] = True  # away from the defect
    inside = fitted.predict(image, roi)
    assert inside.score == pytest.approx(float(inside.anomaly_map[roi].max()))
    assert inside.score < fitted.predict(image).score


def test_save_load_round_trip(fitted, tmp_path):
    fitted.threshold = 0.25
    path = tmp_path / "sn.safetensors"
    fitted.save(path)
    loaded = load_method(path)
    assert isinstance(loaded, SimpleNet) and loaded.threshold == 0.25 and loaded.history == fitted.history
    image = _surface(200, defect=True)
    np.testing.assert_array_equal(loaded.predict(image).anomaly_map, fitted.predict(image).anomaly_map)
    tensors, meta = load_model(path, coreset=False)
    for change, message in (({"hidden": 0}, "hidden"), ({"noise_std": -1.0}, "noise_std"),
                            ({"extra": 1}, "unknown"), ({"hidden": 32}, "do not fit")):
        bad = tmp_path / "bad.safetensors"
        save_model(bad, tensors, meta | change, coreset=False)
        with pytest.raises(ModelFileError, match=message):
            SimpleNet.load(bad)


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_cli_train_predict_evaluate(tmp_path, capsys):
    from seqcore.cli import main

    root = tmp_path / "mvtec" / "plate"
    mask = np.zeros((64, 64), np.uint8)
    mask[24:40, 24:40] = 255
    for k in range(4):
        _save(root / "train" / "good" / f"t{k}.png", _surface(k))
    for split, offset in (("validation", 10), ("test", 20)):
        for k in range(2):
            _save(root / split / "good" / f"{split[0]}{k}.png", _surface(offset + k))
            _save(root / split / "crack" / f"{split[0]}{k}.png", _surface(offset + 5 + k, True))
            _save(root / "ground_truth" / "crack" / f"{split[0]}{k}_mask.png", mask)
    model = tmp_path / "sn.safetensors"
    assert main(["train", "--method", "simplenet", "--dataset", "mvtec", str(root), "--val", "validation",
                 "--out", str(model), "--epochs", "2", "--resize", "0", "--threads", "1"]) == 0
    assert "threshold (max pixel F1 on validation)" in capsys.readouterr().out
    pred = tmp_path / "pred"
    assert main(["predict", str(model), "--dataset", "mvtec", str(root), "--out", str(pred), "--no-overlays"]) == 0
    scores = json.loads((pred / "scores.json").read_text())
    assert scores["threshold"] is not None and len(scores["images"]) == 4
    assert main(["evaluate", str(pred), "-o", str(tmp_path / "report"), "--dataset", "mvtec", str(root),
                 "--threshold", str(scores["threshold"])]) == 0
    assert 0.0 <= json.loads((tmp_path / "report" / "metrics.json").read_text())["f1"] <= 1.0
