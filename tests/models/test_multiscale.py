"""The multi-scale default (issue 14): banks per pool kernel, fused maps, NN image score, files, meld, calibrate."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.data.sample import GroundTruth, Sample
from seqcore.io import load_model
from seqcore.models import calibrate
from seqcore.models.base import Prediction
from seqcore.models.patchcore import IncompatibleModelsError, check_compatible

NATIVE = FeatureConfig(resize_short_side=None)  # the default features at native size: small, fast images


def _surface(seed: int, h: int = 40, w: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip(120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 3, (h, w)),
                   0, 255).astype(np.uint8)


def _defective(seed: int) -> np.ndarray:
    image = _surface(seed)
    image[12:22, 18:30] = 250
    return image


TRAIN = [_surface(s) for s in range(10)]


@pytest.fixture(scope="module")
def fitted() -> SequentialPatchCore:
    model = SequentialPatchCore(NATIVE, capacity=48)
    model.fit(TRAIN, epochs=2, progress=False)
    return model


def _bank_model(fitted: SequentialPatchCore, index: int) -> SequentialPatchCore:
    """A single-scale model around one bank of ``fitted`` (its own extractor, pooled at that kernel)."""
    config = FeatureConfig(resize_short_side=None, pool_kernel=fitted.scales[index])
    return SequentialPatchCore.from_coreset(fitted.banks[index], config, image_score="max")


def test_default_model_is_the_chosen_configuration():
    model = SequentialPatchCore()
    assert model.scales == (3, 1) and model.image_score == "nn" and model.strategy.name == "sequential"
    assert model.config == FeatureConfig(normalization="imagenet", resize_short_side=256, border_pad=0,
                                         pool_count_pad=True, out_indices=(2, 3), pool_kernel=3)
    assert SequentialPatchCore(FeatureConfig(pool_kernel=1)).scales == (1,)
    with pytest.raises(ValueError, match="first scale"):
        SequentialPatchCore(NATIVE, scales=(1, 3))
    with pytest.raises(ValueError, match="distinct pool kernels"):
        SequentialPatchCore(NATIVE, scales=(3, 3))
    with pytest.raises(ValueError, match="image_score"):
        SequentialPatchCore(image_score="mean")


def test_each_bank_is_trained_as_if_alone(fitted):
    """One pass feeds both banks; each equals a single-scale model fitted on the same images."""
    for index, kernel in enumerate(fitted.scales):
        alone = SequentialPatchCore(FeatureConfig(resize_short_side=None, pool_kernel=kernel), capacity=48,
                                    scales=(kernel,))
        alone.fit(TRAIN, epochs=2, progress=False)
        np.testing.assert_allclose(fitted.banks[index].points, alone.coreset.points, rtol=1e-5, atol=1e-5)


def test_nominal_scales_are_mean_distances_of_every_eighth_training_image(fitted):
    for index, model in enumerate(_bank_model(fitted, i) for i in range(2)):
        feats = np.concatenate([model.extractor.extract(TRAIN[i]).reshape(-1, model.dim) for i in (0, 8)])
        points = fitted.banks[index].points.astype(np.float64)
        direct = np.sqrt(((feats[:, None, :] - points[None]) ** 2).sum(2)).min(1).mean()
        assert fitted.nominal_scales[index] == pytest.approx(direct, rel=1e-4)


def test_fused_map_is_the_mean_of_the_normalised_bank_maps(fitted):
    image = _defective(20)
    models = [_bank_model(fitted, i) for i in range(2)]
    expected = np.mean([m.score_grid(m.extractor.prepare(image)) / fitted.nominal_scales[i]
                        for i, m in enumerate(models)], axis=0)
    prepared = fitted.extractor.prepare(image)
    np.testing.assert_allclose(fitted.score_grid(prepared), expected, rtol=1e-4, atol=1e-5)
    maps = [m.predict(image).anomaly_map / fitted.nominal_scales[i] for i, m in enumerate(models)]
    np.testing.assert_allclose(fitted.predict(image).anomaly_map, np.mean(maps, axis=0), rtol=1e-4, atol=1e-5)


def test_image_score_is_the_nn_reweighted_worst_fused_patch(fitted):
    image = _defective(21)
    grid = fitted.score_grid(fitted.extractor.prepare(image))
    feats = fitted.extractor.extract(image)
    worst = np.unravel_index(np.argmax(grid), grid.shape)
    points = fitted.coreset.points.astype(np.float64)
    x = feats[worst].astype(np.float64)
    nearest = np.argmin(np.linalg.norm(points - x, axis=1))
    support = np.argsort(np.linalg.norm(points - points[nearest], axis=1), kind="stable")[:9]
    d = np.linalg.norm(points[support] - x, axis=1)
    expected = (1.0 - np.exp(d[0]) / np.exp(d).sum()) * grid[worst]
    assert fitted.predict(image).score == pytest.approx(expected, rel=1e-4)
    assert fitted.predict(image).score > fitted.predict(_surface(22)).score


def test_multi_bank_file_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "m.safetensors")
    tensors, meta = load_model(tmp_path / "m.safetensors")
    assert set(tensors) == {"coreset", "coreset_1"}
    np.testing.assert_array_equal(tensors["coreset"], fitted.coreset.points)  # the C++ reader's bank
    from seqcore import _core

    points, _, _ = _core.read_model(str(tmp_path / "m.safetensors"))  # extra banks do not disturb it
    np.testing.assert_array_equal(np.asarray(points), fitted.coreset.points)
    assert (meta["scales"], meta["nominal_scales"], meta["image_score"]) == ([3, 1], fitted.nominal_scales, "nn")
    loaded = SequentialPatchCore.load(tmp_path / "m.safetensors")
    assert loaded.scales == fitted.scales and loaded.nominal_scales == fitted.nominal_scales
    image = _defective(23)
    a, b = fitted.predict(image), loaded.predict(image)
    np.testing.assert_array_equal(a.anomaly_map, b.anomaly_map)
    assert a.score == b.score
    del tensors["coreset_1"]
    from seqcore.io import ModelFileError, save_model

    save_model(tmp_path / "short.safetensors", tensors, meta)
    with pytest.raises(ModelFileError, match="missing \\['coreset_1'\\]"):
        SequentialPatchCore.load(tmp_path / "short.safetensors")


def test_meld_goes_bank_by_bank_and_keeps_the_base_scales(fitted):
    from seqcore.coreset import meld

    other = SequentialPatchCore(NATIVE, capacity=48)
    other.fit([_surface(s) for s in range(30, 34)], epochs=1, progress=False)
    melded = SequentialPatchCore.meld([fitted, other])
    assert melded.scales == (3, 1) and melded.nominal_scales == fitted.nominal_scales
    for index in range(2):
        direct = meld([fitted.banks[index], other.banks[index]], capacity=48)
        np.testing.assert_array_equal(melded.banks[index].points, direct.points)
    with pytest.raises(IncompatibleModelsError, match="scales"):
        check_compatible(fitted, SequentialPatchCore(NATIVE, scales=(3,)))


class _StubMethod:
    """Maps that match the defect only at σ = 4: calibrate must pick it and compute each image once."""

    def __init__(self) -> None:
        self.blur_sigma, self.threshold, self.calls = 2.0, None, 0

    def scores(self, sample: Sample) -> Sample:
        self.calls += 1
        return sample

    def render(self, sample: Sample, sigma: float) -> Prediction:
        mask = (sample.gt.class_mask > 0).astype(np.float32)
        noise = np.random.default_rng(int(sigma)).random(mask.shape).astype(np.float32)
        amap = 0.2 + 0.7 * mask if sigma == 4.0 else noise
        return Prediction(amap, float(amap.max()), None)

    def predict(self, sample: Sample) -> Prediction:
        return self.render(self.scores(sample), self.blur_sigma)


def test_calibrate_chooses_sigma_by_the_pixel_rule_then_the_best_f1_threshold():
    samples = []
    for seed in range(4):
        mask = np.zeros((16, 16), np.uint8)
        if seed % 2:
            mask[4:9, 5:11] = 1
        label = "defect" if seed % 2 else "good"
        samples.append(Sample(f"s{seed}", np.zeros((16, 16), np.uint8), label, GroundTruth(mask, {1: "defect"})))
    method = _StubMethod()
    threshold = calibrate(method, samples, defect_classes=["defect"], progress=False)
    assert method.blur_sigma == 4.0 and method.calls == len(samples)
    assert 0.2 < threshold <= 0.9  # the perfect map separates at any threshold between its two levels
    kept = _StubMethod()
    calibrate(kept, samples, defect_classes=["defect"], progress=False, sigmas=None)
    assert kept.blur_sigma == 2.0
