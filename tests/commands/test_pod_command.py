"""`seqcore pod` on a tiny MVTec layout: pod.json + pod.png, thresholds from the model, a value or a rule."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seqcore.cli import main

SIZE = 96


def _surface(seed: int, defect: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    image = 120 + 20 * np.sin(xx / 3.0) + 15 * np.cos(yy / 4.0) + rng.normal(0, 2, (SIZE, SIZE))
    if defect:
        image[40:52, 40:52] = 250
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An MVTec category (train/good, validation/ with good and crack images) and a model trained on it
    (without a threshold)."""
    root = tmp_path_factory.mktemp("mvtec") / "plate"
    for k in range(3):
        _save(root / "train" / "good" / f"{k:03d}.png", _surface(k))
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[40:52, 40:52] = 255
    for k in range(3):
        _save(root / "validation" / "good" / f"g{k}.png", _surface(10 + k))
    _save(root / "validation" / "crack" / "c0.png", _surface(20, defect=True))
    _save(root / "ground_truth" / "crack" / "c0_mask.png", mask)
    model = root.parent / "m.safetensors"
    assert main(["train", "--dataset", "mvtec", str(root), "--out", str(model), "--capacity", "32",
                 "--epochs", "1", "--resize", "0", "--blur-sigma", "2"]) == 0
    return root, model


def _pod(setup, out, *extra) -> dict:
    root, model = setup
    assert main(["pod", str(model), "--dataset", "mvtec", str(root), "--split", "val", "--out", str(out),
                 "--kinds", "dot,scar", "--sizes", "2,24", "--trials", "4", *extra]) == 0
    return json.loads((out / "pod.json").read_text())


def test_pod_writes_curves_and_plot(setup, tmp_path):
    summary = _pod(setup, tmp_path / "a", "--pixel-size", "0.05", "--contrast", "120", "--threshold", "1e9")
    assert summary["threshold"] == 1e9 and summary["threshold_source"] == "given on the command line"
    assert all(p == 0 and b == 0 for c in summary["curves"] for p, b in zip(c["pod"], c["baseline"], strict=True))
    assert summary["good_images"] == 3 and summary["trials"] == 4
    assert [c["kind"] for c in summary["curves"]] == ["dot", "scar"]
    for curve in summary["curves"]:
        assert curve["pod"] == [h / 4 for h in curve["hits"]]
        assert [len(p) for p in curve["peaks"]] == [4, 4] and max(max(p) for p in curve["peaks"]) < 1e9
        assert curve["size_mm"] == pytest.approx([0.1, 1.2])
        assert curve["a90_px"] is None and curve["a90_mm"] is None
    with Image.open(tmp_path / "a" / "pod.png") as png:
        assert png.size[0] > 300 and png.size[1] > 200


def test_pod_threshold_rule_is_the_quantile_of_the_good_maxima(setup, tmp_path):
    from seqcore.data import open_dataset
    from seqcore.models import load_method

    root, model_path = setup
    summary = _pod(setup, tmp_path / "q", "--threshold-rule", "nominal-quantile:0.5", "--good-images", "2")
    model = load_method(model_path)
    goods = [s for s in open_dataset("mvtec", str(root), "val") if s.label == "good"]
    expected = np.quantile([float(model.predict(s).anomaly_map.max()) for s in goods], 0.5)
    assert summary["threshold"] == pytest.approx(expected, rel=1e-6)
    assert summary["good_images"] == 2 and summary["good_images_in_split"] == 3
    assert "nominal-quantile:0.5" in summary["threshold_source"]
    for curve in summary["curves"]:  # 24-px defects of contrast 60 on a smooth surface: all found
        assert curve["pod"][-1] == 1.0 and curve["a90_px"] == (2 if curve["pod"][0] >= 0.9 else 24)


def test_pod_rejects_bad_options(setup, tmp_path, capsys):
    root, model = setup
    base = ["pod", str(model), "--dataset", "mvtec", str(root), "--out", str(tmp_path / "x")]
    assert main(base) == 2
    assert "has no threshold" in capsys.readouterr().err
    base += ["--threshold", "1"]
    assert main([*base, "--kinds", "crack"]) == 2
    assert "unknown defect kind" in capsys.readouterr().err
    assert main([*base, "--sizes", "60"]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert main([*base, "--sizes", "a,b"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
