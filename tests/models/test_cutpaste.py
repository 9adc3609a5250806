"""CutPaste: each synthetic defect's size within its stated range, the GDE against a brute-force
Mahalanobis distance, a tiny fit that separates a defect, and save/load with metadata validation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from seqcore.io import ModelFileError, load_model, save_model
from seqcore.models import load_method
from seqcore.models.cutpaste import DEFECTS, CutPaste, CutPasteConfig
from seqcore.models.cutpaste.augment import arc_scar, black_dot, cutpaste, scar, study_scar, white_dot
from seqcore.models.cutpaste.gde import fit_gaussian, mahalanobis

SEEDS = range(40)


def _texture(seed: int = 0, size: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 140, (size, size)).astype(np.uint8)


def _extent(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


@pytest.mark.parametrize("seed", SEEDS)
def test_dots_have_their_diameters_and_colours(seed):
    image = _texture(seed)
    out, mask = black_dot(image, np.random.default_rng(seed))
    assert 6 <= max(_extent(mask)) <= 10 and (out[mask] == 0).all()
    out, mask = white_dot(image, np.random.default_rng(seed))
    d = max(_extent(mask))
    assert 6 <= d <= 12 and (out[mask] == 255).any() and (out[mask] == 0).any()  # white with a black border
    assert (out[~mask] == image[~mask]).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_scars_fit_their_rotated_rectangles(seed):
    image = _texture(seed)
    for fn, (wmin, wmax), (lmin, lmax) in ((scar, (2, 16), (10, 25)), (study_scar, (2, 12), (20, 50))):
        _, mask = fn(image, np.random.default_rng(seed))
        area = mask.sum()
        assert 0.6 * wmin * lmin <= area <= 1.4 * wmax * lmax  # nearest-neighbour rotation changes the area a little
        assert max(_extent(mask)) <= math.hypot(wmax, lmax) + 2


@pytest.mark.parametrize("seed", SEEDS)
def test_cutpaste_area_and_arc(seed):
    image = _texture(seed)
    _, mask = cutpaste(image, np.random.default_rng(seed))
    assert 0.015 <= mask.mean() <= 0.16 and mask.sum() == np.prod(_extent(mask))  # one filled rectangle
    image = _texture(seed, 256)
    out, mask = arc_scar(image, np.random.default_rng(seed))
    assert mask.any() and (np.abs(out[mask].astype(int) - image[mask]) > 0).all()
    ys, xs = np.nonzero(mask)
    # a 60° arc of radius r <= 90 spans a chord of r
    assert np.hypot(ys.max() - ys.min(), xs.max() - xs.min()) <= 90 + 2 * 4 + 2  # chord + thickness


def test_gde_matches_brute_force():
    x = np.random.default_rng(0).normal(size=(200, 5)) * [1, 2, 3, 4, 5]
    mean, precision = fit_gaussian(x, shrinkage=1e-9 + 1e-12)
    cov = np.cov(x, rowvar=False)
    q = np.random.default_rng(1).normal(size=(7, 5))
    expected = [math.sqrt((v - x.mean(0)) @ np.linalg.inv(cov) @ (v - x.mean(0))) for v in q]
    np.testing.assert_allclose(mahalanobis(q, mean, precision), expected, rtol=1e-4)


@pytest.fixture(scope="module")
def fitted() -> CutPaste:
    model = CutPaste(resize_short_side=64, patch=32, stride=16, pretrained=False, defects=("black_dot", "white_dot"),
                     three_way=False, seed=1)
    config = CutPasteConfig(epochs=2, steps_per_epoch=2, batch_size=4, held_out=8, gde_windows=64)
    model.fit([_texture(k, 64) for k in range(4)], config, progress=False, threads=1)
    return model


def test_fit_predict_and_round_trip(fitted, tmp_path):
    prediction = fitted.predict(_texture(50, 96))
    assert prediction.anomaly_map.shape == (96, 96) and math.isfinite(prediction.score)
    fitted.threshold = 1.5
    path = tmp_path / "cp.safetensors"
    fitted.save(path)
    loaded = load_method(path)
    assert isinstance(loaded, CutPaste) and loaded.threshold == 1.5 and loaded.history == fitted.history
    np.testing.assert_allclose(loaded.predict(_texture(50, 96)).anomaly_map, prediction.anomaly_map, rtol=1e-5)
    tensors, meta = load_model(path, coreset=False)
    for change, message in (({"patch": 8}, "patch"), ({"defects": ["laser"]}, "defects"),
                            ({"three_way": True}, "do not fit"), ({"x": 1}, "unknown")):
        bad = tmp_path / "bad.safetensors"
        save_model(bad, tensors, meta | change, coreset=False)
        with pytest.raises(ModelFileError, match=message):
            CutPaste.load(bad)


def test_three_way_labels():
    model = CutPaste(resize_short_side=64, patch=64, pretrained=False, three_way=True, defects=tuple(DEFECTS))
    _, labels = model._batch([_texture(0, 64)], np.random.default_rng(0), 3)
    assert sorted(set(labels.tolist())) == [0, 1, 2] and len(labels) == 9


def test_cli_train_cutpaste_then_predict(tmp_path):
    from PIL import Image

    from seqcore.cli import main

    folder = tmp_path / "train"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(_texture(k, 64)).save(folder / f"{k}.png")
    model = tmp_path / "cp.safetensors"
    assert main(["train", str(folder), "--method", "cutpaste", "--out", str(model), "--epochs", "1",
                 "--steps-per-epoch", "1", "--resize", "64", "--synthetic-defects", "black_dot", "--threads", "1"]) == 0
    assert isinstance(load_method(model), CutPaste)
    assert main(["predict", str(model), str(folder), "--out", str(tmp_path / "pred"), "--no-overlays"]) == 0
    assert len(list((tmp_path / "pred" / "maps").glob("*.npy"))) == 3
