"""train / predict / evaluate on tiny MVTec AD and magnetic-tile layouts given as `--dataset KIND ROOT`."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from seqcore import load_model
from seqcore.cli import main

CAPACITY = ["--capacity", "24", "--epochs", "1"]


def _surface(seed: int, defect: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    image = 120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 2, (64, 64))
    if defect:
        image[24:36, 26:38] = 250
    return np.clip(image, 0, 255).astype(np.uint8)


def _defect_mask() -> np.ndarray:
    mask = np.zeros((64, 64), np.uint8)
    mask[24:36, 26:38] = 255
    return mask


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture(scope="module")
def mvtec(tmp_path_factory):
    """An MVTec AD category of .jpg images: train/good, validation/ and test/ with crack masks."""
    root = tmp_path_factory.mktemp("mvtec") / "plate"
    for k in range(3):
        _save(root / "train" / "good" / f"{k:03d}.jpg", _surface(k))
    for split, offset in (("validation", 10), ("test", 20)):
        for k in range(2):
            _save(root / split / "good" / f"{split[0]}{k}.jpg", _surface(offset + k))
            _save(root / split / "crack" / f"{split[0]}{k}.jpg", _surface(offset + 5 + k, defect=True))
            _save(root / "ground_truth" / "crack" / f"{split[0]}{k}_mask.png", _defect_mask())
    return root


@pytest.fixture(scope="module")
def trained(mvtec, tmp_path_factory):
    """A model trained on the MVTec train split with its threshold set on validation/ (--val val)."""
    model = tmp_path_factory.mktemp("model") / "m.safetensors"
    assert main(["train", "--dataset", "mvtec", str(mvtec), "--val", "val", "--out", str(model), *CAPACITY]) == 0
    return model


def _scores(folder) -> dict[str, dict[str, str]]:
    return {r["image"]: r for r in csv.DictReader((folder / "scores.csv").open())}


def test_train_val_sets_the_threshold_and_predict_writes_verdicts(mvtec, trained, tmp_path, capsys):
    _, meta = load_model(trained)
    assert meta["threshold"] is not None and np.isfinite(meta["threshold"])
    out = tmp_path / "pred"
    assert main(["predict", str(trained), "--dataset", "mvtec", str(mvtec), "--split", "test", "--out", str(out)]) == 0
    rows = _scores(out)
    assert set(rows) == {"test/good/t0", "test/good/t1", "test/crack/t0", "test/crack/t1"}
    for name, row in rows.items():
        assert row["anomalous"] == str(int(float(row["score"]) >= meta["threshold"])), name
        assert np.load(out / "maps" / f"{name}.npy").shape == (64, 64)
    assert all(rows[f"test/crack/t{k}"]["anomalous"] == "1" for k in range(2))
    assert json.loads((out / "scores.json").read_text())["threshold"] == meta["threshold"]


def test_predicted_maps_evaluate_against_the_same_dataset(mvtec, trained, tmp_path):
    for split in ("test", "val"):
        assert main(["predict", str(trained), "--dataset", "mvtec", str(mvtec), "--split", split,
                     "--out", str(tmp_path / "pred"), "--no-overlays"]) == 0
    assert main(["evaluate", str(tmp_path / "pred"), "-o", str(tmp_path / "report"), "--dataset", "mvtec",
                 str(mvtec), "--overlays", "0"]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["details"]["threshold source"] == "pixel-F1 maximum on split 'val'"
    assert metrics["counts"]["images"] == 4 and metrics["R_DW"] == {"crack": 1.0}


def test_predict_without_threshold_leaves_the_verdict_empty(mvtec, tmp_path):
    model = tmp_path / "m.safetensors"
    assert main(["train", str(mvtec / "train"), "--out", str(model), *CAPACITY]) == 0
    assert load_model(model)[1]["threshold"] is None
    assert main(["predict", str(model), str(mvtec / "test" / "good"), "--out", str(tmp_path / "p")]) == 0
    assert {r["anomalous"] for r in _scores(tmp_path / "p").values()} == {""}


def test_augment_changes_the_coreset_reproducibly(mvtec, tmp_path):
    coresets = {}
    for name, extra in (("none", []), ("da", ["--augment", "da"]), ("da again", ["--augment", "da"])):
        model = tmp_path / f"{name}.safetensors"
        assert main(["train", "--dataset", "mvtec", str(mvtec), "--out", str(model), "--seed", "3",
                     *CAPACITY, *extra]) == 0
        coresets[name] = load_model(model)[0]["coreset"]
    np.testing.assert_array_equal(coresets["da"], coresets["da again"])
    assert not np.array_equal(coresets["da"], coresets["none"])


def test_method_greedy_reaches_the_model_file(mvtec, tmp_path):
    model = tmp_path / "g.safetensors"
    assert main(["train", "--dataset", "mvtec", str(mvtec), "--method", "greedy", "--out", str(model),
                 *CAPACITY]) == 0
    tensors, meta = load_model(model)
    assert meta["method"] == "greedy" and tensors["coreset"].shape[0] == 24
    assert len(np.unique(tensors["coreset"], axis=0)) == 24  # k-center never picks a point twice


def test_init_with_a_different_capacity_is_a_clear_error(trained, mvtec, tmp_path, capsys):
    args = ["train", "--dataset", "mvtec", str(mvtec), "--init", str(trained), "--out", str(tmp_path / "t.safetensors")]
    assert main([*args, "--capacity", "12"]) == 2
    assert f"--capacity 12 differs from the capacity 24 of {trained}" in capsys.readouterr().err
    assert not (tmp_path / "t.safetensors").exists()
    assert main([*args, "--capacity", "24", "--epochs", "1"]) == 0


def test_magnetic_tile_train_and_predict(tmp_path):
    root = tmp_path / "mt"
    rows = [[f"MT_Free/Imgs/f{k}.jpg", "free", "train"] for k in range(3)]
    rows += [["MT_Free/Imgs/t0.jpg", "free", "test"], ["MT_Fray/Imgs/t1.jpg", "fray", "test"]]
    root.mkdir()
    with (root / "split.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "class", "split"], *rows])
    for k, (image, cls, _) in enumerate(rows):
        _save(root / image, _surface(40 + k, defect=cls != "free"))
        _save((root / image).with_suffix(".png"), _defect_mask() if cls != "free" else np.zeros((64, 64), np.uint8))
    model = tmp_path / "mt.safetensors"
    assert main(["train", "--dataset", "magnetic-tile", str(root), "--out", str(model), *CAPACITY]) == 0
    out = tmp_path / "pred"
    assert main(["predict", str(model), "--dataset", "magnetic-tile", str(root), "--out", str(out)]) == 0
    rows = _scores(out)
    assert set(rows) == {"MT_Free/Imgs/t0", "MT_Fray/Imgs/t1"}  # predict defaults to --split test
    assert float(rows["MT_Fray/Imgs/t1"]["score"]) > float(rows["MT_Free/Imgs/t0"]["score"])
    assert (out / "maps" / "MT_Fray" / "Imgs" / "t1.npy").is_file()


def test_data_source_errors(mvtec, tmp_path, capsys):
    out = ["--out", str(tmp_path / "x.safetensors")]
    assert main(["train", *out]) == 2
    assert "give a folder of images or --dataset KIND ROOT" in capsys.readouterr().err
    assert main(["train", str(mvtec / "train"), "--dataset", "mvtec", str(mvtec), *out]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["train", str(mvtec / "train"), "--val", "val", *out]) == 2
    assert "--val needs a dataset with splits" in capsys.readouterr().err
    assert main(["train", "--dataset", "mvtec", str(mvtec), "--split", "holdout", *out]) == 2
    assert "split must be one of" in capsys.readouterr().err


def test_train_defaults_are_the_chosen_configuration(trained, capsys):
    """No tuning flags: ImageNet input, short side 256, no border pad, zero-counting pool 3 fused with
    pool 1, NN image score, σ chosen on --val from (2, 4, 6, 8)."""
    _, meta = load_model(trained)
    features = meta["features"]
    assert (features["normalization"], features["resize_short_side"], features["border_pad"],
            features["pool_count_pad"], features["pool_kernel"]) == ("imagenet", 256, 0, True, 3)
    assert meta["scales"] == [3, 1] and len(meta["nominal_scales"]) == 2 and meta["image_score"] == "nn"
    assert meta["blur_sigma"] in (2.0, 4.0, 6.0, 8.0)


def test_train_flags_override_every_default(mvtec, tmp_path, capsys):
    model = tmp_path / "old.safetensors"
    assert main(["train", "--dataset", "mvtec", str(mvtec), "--out", str(model), *CAPACITY, "--val", "val",
                 "--scales", "3", "--image-score", "max", "--normalization", "backbone", "--border-pad", "8",
                 "--resize", "0", "--pool-count-pad", "no", "--blur-sigma", "3"]) == 0
    assert "blur σ 3 (given)" in capsys.readouterr().out
    tensors, meta = load_model(model)
    assert set(tensors) == {"coreset"} and "scales" not in meta and "image_score" not in meta
    assert meta["blur_sigma"] == 3.0
    assert meta["features"]["resize_short_side"] is None and meta["features"]["border_pad"] == 8
    assert "normalization" not in meta["features"] and "pool_count_pad" not in meta["features"]
