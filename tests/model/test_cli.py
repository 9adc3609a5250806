"""The train / predict / meld commands on a tiny folder of images."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from seqcore.cli import main


def _surface(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    texture = 120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 2, (64, 64))
    return np.clip(texture, 0, 255).astype(np.uint8)


@pytest.fixture
def folders(tmp_path):
    train, test = tmp_path / "train", tmp_path / "test"
    for seed in range(4):
        (train / "sub").mkdir(parents=True, exist_ok=True)
        Image.fromarray(_surface(seed)).save(train / ("sub" if seed % 2 else "") / f"n{seed}.png")
    test.mkdir()
    defect = _surface(10)
    defect[24:36, 26:38] = 250
    Image.fromarray(defect).save(test / "defect.png")
    Image.fromarray(_surface(11)).save(test / "good.png")
    (test / "broken.png").write_bytes(b"garbage")
    return train, test


def test_train_predict_meld(folders, tmp_path, capsys):
    train, test = folders
    model = tmp_path / "m.safetensors"
    assert main(["train", str(train), "--out", str(model), "--capacity", "48", "--epochs", "2"]) == 0
    assert "replacements per epoch" in capsys.readouterr().out
    out = tmp_path / "pred"
    with pytest.warns(UserWarning, match="broken.png"):
        assert main(["predict", str(model), str(test), "--out", str(out)]) == 0
    amap = np.load(out / "maps" / "defect.npy")
    assert amap.shape == (64, 64) and amap.dtype == np.float32
    assert (out / "overlays" / "defect.png").is_file()
    rows = {r["image"]: float(r["score"]) for r in csv.DictReader((out / "scores.csv").open())}
    assert set(rows) == {"defect", "good"} and rows["defect"] > rows["good"]

    tuned = tmp_path / "t.safetensors"
    with pytest.warns(UserWarning, match="broken.png"):
        assert main(["train", str(test), "--init", str(model), "--out", str(tuned), "--epochs", "1"]) == 0
    melded = tmp_path / "melded.safetensors"
    assert main(["meld", str(model), str(tuned), "--out", str(melded), "--capacity", "24"]) == 0
    assert "coreset 24/24" in capsys.readouterr().out


def test_train_reports_bad_arguments(folders, tmp_path, capsys):
    train, _ = folders
    assert main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err


def test_train_fixed_size_keeps_maps_at_input_resolution(folders, tmp_path):
    train, test = folders
    model = tmp_path / "m.safetensors"
    args = ["train", str(train), "--out", str(model), "--capacity", "32", "--epochs", "1", "--size", "48", "80"]
    assert main(args) == 0
    from seqcore import SequentialPatchCore

    loaded = SequentialPatchCore.load(model)
    assert loaded.config.resize_shape == (48, 80)
    assert loaded.predict(np.zeros((64, 64), np.uint8)).anomaly_map.shape == (64, 64)


def test_train_pool_kernel_and_border_pad_reach_the_model_file(folders, tmp_path):
    train, _ = folders
    model = tmp_path / "m.safetensors"
    args = ["train", str(train), "--out", str(model), "--capacity", "32", "--epochs", "1",
            "--pool-kernel", "1", "--border-pad", "0"]
    assert main(args) == 0
    from seqcore import SequentialPatchCore

    loaded = SequentialPatchCore.load(model)
    assert (loaded.config.pool_kernel, loaded.config.border_pad) == (1, 0)
