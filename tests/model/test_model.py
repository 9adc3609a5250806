"""SequentialPatchCore end to end on tiny images: fit, predict, save/load, fine-tune, meld."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from seqcore import FeatureConfig, Greedy, SequentialPatchCore
from seqcore.data.sample import Sample
from seqcore.metrics import GroundTruth
from seqcore.models import calibrate
from seqcore.models.anomaly_map import anomaly_map
from seqcore.models.patchcore import IncompatibleModelsError, check_compatible

# The default features without the resize to a 256-px short side: a 64-px image stays an 8x8 patch grid
NATIVE = FeatureConfig(resize_short_side=None)


def _surface(seed: int, h: int = 64, w: int = 64) -> np.ndarray:
    """A smooth nominal texture with mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0)
    return np.clip(base + rng.normal(0, 2, (h, w)), 0, 255).astype(np.uint8)


def _defective(seed: int) -> tuple[np.ndarray, np.ndarray]:
    image = _surface(seed)
    mask = np.zeros(image.shape, bool)
    mask[24:36, 26:38] = True
    image[mask] = 250
    return image, mask


@pytest.fixture(scope="module")
def train_images() -> list[np.ndarray]:
    return [_surface(seed) for seed in range(6)]


@pytest.fixture(scope="module")
def fitted(train_images) -> SequentialPatchCore:
    model = SequentialPatchCore(NATIVE, capacity=64, image_score="max")  # the tests read the score off the map
    model.fit(train_images, epochs=3, progress=False)
    return model


@pytest.fixture
def own_fitted(fitted) -> SequentialPatchCore:
    """A shallow copy of the shared model for tests that set a threshold (the coreset is shared)."""
    return copy.copy(fitted)


def test_fit_records_replacements_and_fills_the_coreset(fitted):
    report = fitted.history[-1]
    assert fitted.coreset.size == 64 and fitted.dim == 152
    assert report["patches"][0] == 6 * 64
    assert report["replacements"][0] > 0
    assert len(report["replacements"]) == report["epochs"] <= 3


def test_fewer_patches_than_capacity_keeps_every_patch():
    images = [_surface(1, 32, 32), _surface(2, 32, 32)]
    model = SequentialPatchCore(NATIVE, capacity=100)
    report = model.fit(images, epochs=5, progress=False)
    assert report.epochs == 1 and report.stop_reason.startswith("coreset not full")
    expected = np.concatenate([f.reshape(-1, model.dim) for f in model.extractor.extract_many(images)])
    assert model.coreset.size == 32
    np.testing.assert_allclose(model.coreset.points, expected, rtol=1e-5, atol=1e-5)


def test_predict_localizes_a_defect(fitted):
    image, mask = _defective(99)
    pred = fitted.predict(image)
    assert pred.anomaly_map.shape == image.shape and pred.anomaly_map.dtype == np.float32
    assert pred.anomaly_map[mask].mean() > 1.5 * pred.anomaly_map[~mask].mean()
    assert mask[np.unravel_index(pred.anomaly_map.argmax(), mask.shape)]
    assert pred.score == pytest.approx(pred.anomaly_map.max())
    assert pred.anomalous is None
    assert fitted.predict(_surface(100)).score < pred.score


def test_anomaly_map_with_another_sigma_leaves_the_model_unchanged(fitted):
    image, _ = _defective(11)
    prepared = fitted.extractor.prepare(image)
    grid = fitted.score_grid(prepared)
    stride = fitted.extractor.stride
    own = anomaly_map(grid, stride, prepared.shape[:2], image.shape, fitted.blur_sigma)
    wider = anomaly_map(grid, stride, prepared.shape[:2], image.shape, 6.0)
    assert fitted.blur_sigma == 2.0
    np.testing.assert_array_equal(own, fitted.predict(image).anomaly_map)
    assert wider.max() < own.max()  # more blur flattens the defect's peak


def test_region_of_interest_zeroes_the_outside(fitted):
    image, _ = _defective(5)
    roi = np.zeros(image.shape, bool)
    roi[:, :10] = True
    pred = fitted.predict(image, roi=roi)
    assert (pred.anomaly_map[~roi] == 0).all() and pred.anomaly_map[roi].max() > 0
    with pytest.raises(ValueError, match="region-of-interest"):
        fitted.predict(image, roi=roi[:10])


def test_save_load_round_trip_gives_identical_maps(own_fitted, tmp_path):
    own_fitted.threshold = 1.25
    path = tmp_path / "model.safetensors"
    own_fitted.save(path)
    loaded = SequentialPatchCore.load(path)
    image, _ = _defective(7)
    np.testing.assert_array_equal(loaded.predict(image).anomaly_map, own_fitted.predict(image).anomaly_map)
    np.testing.assert_array_equal(loaded.coreset.points, own_fitted.coreset.points)
    assert loaded.threshold == 1.25 and loaded.config == own_fitted.config
    assert loaded.metadata()["versions"]["seqcore"]


def test_projection_matrix_is_saved(tmp_path, train_images):
    features = FeatureConfig(resize_short_side=None, projection_dim=24, projection_seed=4)
    model = SequentialPatchCore(features, capacity=32, seed=4)
    model.fit(train_images[:2], epochs=1, progress=False)
    model.save(tmp_path / "p.safetensors")
    loaded = SequentialPatchCore.load(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(loaded.extractor.projection, model.extractor.projection)
    probe = train_images[3]
    np.testing.assert_array_equal(loaded.predict(probe).anomaly_map, model.predict(probe).anomaly_map)


def test_fine_tuning_starts_from_the_loaded_coreset(fitted, tmp_path):
    fitted.save(tmp_path / "base.safetensors")
    tuned = SequentialPatchCore.load(tmp_path / "base.safetensors")
    before = tuned.coreset.points
    report = tuned.fit([_surface(50)], epochs=1, progress=False)
    after = tuned.coreset.points
    changed = int((np.abs(after - before).max(axis=1) > 0).sum())
    assert changed <= report.replacements[0] < 64
    assert changed < len(before)  # untouched rows remain: it did not start from scratch
    assert len(tuned.history) == len(fitted.history) + 1


def test_meld_with_itself_changes_nothing(fitted):
    melded = SequentialPatchCore.meld([fitted, fitted])
    np.testing.assert_array_equal(melded.coreset.points, fitted.coreset.points)
    image, _ = _defective(3)
    np.testing.assert_array_equal(melded.predict(image).anomaly_map, fitted.predict(image).anomaly_map)


def test_meld_capacity_can_change(fitted, train_images):
    other = SequentialPatchCore(NATIVE, capacity=64)
    other.fit([_surface(s) for s in range(20, 24)], epochs=1, progress=False)
    melded = SequentialPatchCore.meld([fitted, other], capacity=32)
    assert melded.capacity == 32 and melded.coreset.size == 32


def test_meld_refuses_incompatible_models(fitted, train_images):
    other = SequentialPatchCore(FeatureConfig(resize_short_side=None, pool_kernel=2), capacity=64)
    other.fit(train_images[:1], epochs=1, progress=False)
    with pytest.raises(IncompatibleModelsError, match="pool_kernel: 3 vs 2"):
        SequentialPatchCore.meld([fitted, other])


def test_files_from_before_border_padding_predict_as_before(fitted, train_images, tmp_path):
    from seqcore.io import load_model, save_model

    unpadded = SequentialPatchCore(FeatureConfig(resize_short_side=None, border_pad=0), capacity=64)
    unpadded.fit(train_images[:2], epochs=1, progress=False)
    unpadded.save(tmp_path / "new.safetensors")
    tensors, meta = load_model(tmp_path / "new.safetensors")
    del meta["features"]["border_pad"]  # what files written before the option held
    save_model(tmp_path / "old.safetensors", tensors, meta)
    old = SequentialPatchCore.load(tmp_path / "old.safetensors")
    assert old.config.border_pad == 0
    image, _ = _defective(5)
    np.testing.assert_array_equal(old.predict(image).anomaly_map, unpadded.predict(image).anomaly_map)
    padded = SequentialPatchCore(FeatureConfig(resize_short_side=None, border_pad=8))
    with pytest.raises(IncompatibleModelsError, match="border_pad: 8 vs 0"):
        check_compatible(padded, old)


def test_greedy_baseline_selects_k_training_patches(train_images):
    model = SequentialPatchCore(NATIVE, capacity=40, strategy=Greedy())
    report = model.fit(train_images[:3], progress=False)
    assert model.coreset.size == 40 and report.epochs == 1
    features = np.concatenate([f.reshape(-1, model.dim) for f in model.extractor.extract_many(train_images[:3])])
    dist = np.sqrt(((model.coreset.points[:, None] - features[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 1e-3


def test_dark_patches_are_filtered(train_images):
    image = train_images[0].copy()
    image[:, :32] = 5
    model = SequentialPatchCore(NATIVE, capacity=500, min_patch_brightness=31 / 255)
    report = model.fit([image], epochs=1, progress=False)
    assert report.patches[0] < 64 and model.coreset.size == report.patches[0]
    with pytest.raises(ValueError, match="every patch was filtered"):
        SequentialPatchCore(NATIVE, capacity=8, min_patch_brightness=0.9).fit([image], epochs=1, progress=False)


def test_calibrate_stores_a_threshold(own_fitted):
    samples = []
    for seed in range(3):
        image, mask = _defective(200 + seed)
        samples.append(Sample(f"d{seed}", image, "spot", GroundTruth.from_binary_mask(mask, "spot")))
    samples.append(Sample("n", _surface(300), "good", GroundTruth.empty((64, 64))))
    threshold = calibrate(own_fitted, samples, defect_classes=["spot"], progress=False)
    assert own_fitted.threshold == threshold
    assert own_fitted.predict(samples[0]).anomalous is True
    assert own_fitted.threshold_rule == "f1"
    quantile = calibrate(own_fitted, samples, defect_classes=["spot"], progress=False, sigmas=None,
                         rule="nominal-quantile:1")
    good = own_fitted.predict(samples[-1])
    assert quantile == pytest.approx(float(good.anomaly_map.max()))
    assert own_fitted.threshold_rule == "nominal-quantile:1"


def test_bad_model_files_and_arguments(tmp_path):
    from seqcore.io import ModelFileError

    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError):
        SequentialPatchCore.load(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="no coreset"):
        SequentialPatchCore(NATIVE, capacity=8).predict(_surface(0))
    with pytest.raises(TypeError, match="features must be a FeatureConfig"):
        SequentialPatchCore("tf_efficientnet_lite0")
    with pytest.raises(TypeError, match="pool_kernel"):
        SequentialPatchCore(pool_kernel=1)  # feature settings go in FeatureConfig, never beside it
    with pytest.raises(ValueError, match="iterator"):
        SequentialPatchCore(NATIVE, capacity=8).fit(iter([_surface(0)]), epochs=2)


def test_tiled_model_handles_large_images(train_images):
    """Tiling: same grid as untiled, maps at input resolution, training from (image, roi) pairs."""
    big = np.tile(train_images[0], (3, 4))[:180, :250]
    roi = np.ones(big.shape, bool)
    roi[:, 200:] = False
    model = SequentialPatchCore(FeatureConfig(resize_short_side=None, tile_size=128, tile_overlap=32),
                                capacity=64)
    report = model.fit([(big, roi)], epochs=1, progress=False)
    assert report.patches[0] == 23 * 25  # 23 rows x 25 of the 32 columns lie inside the ROI
    pred = model.predict(big)
    assert pred.anomaly_map.shape == big.shape and np.isfinite(pred.anomaly_map).all()


def test_fit_with_seeded_augmentation_is_reproducible(train_images):
    from seqcore.data.augment import Compose, Rotate90, Scale, default_augmentation

    roi = np.ones(train_images[0].shape, bool)
    runs = []
    for _ in range(2):
        model = SequentialPatchCore(NATIVE, capacity=32)
        model.fit([(img, roi) for img in train_images[:2]], epochs=2, augment=default_augmentation(3), progress=False)
        runs.append(model.coreset.points)
    np.testing.assert_array_equal(runs[0], runs[1])
    plain = SequentialPatchCore(NATIVE, capacity=32)
    plain.fit(train_images[:2], epochs=2, progress=False)
    assert not np.array_equal(plain.coreset.points, runs[0])
    half = roi.copy()
    half[:, 32:] = False
    scaled = SequentialPatchCore(NATIVE, capacity=512)
    turn_and_scale = Compose([Rotate90(p=1.0), Scale(2.0, p=1.0)], seed=1)
    report = scaled.fit([(train_images[0], half)], epochs=1, augment=turn_and_scale, progress=False)
    assert report.patches[0] == 128  # 2x scaling quadruples the 8x8 grid; the half ROI turns and scales with it


def test_bf16_backbone_map_stays_within_two_percent_of_float32(fitted):
    """CPU bfloat16 autocast: the largest map difference measured 0.9-1.2 % of the map's maximum."""
    bf16 = SequentialPatchCore.from_coreset(fitted.banks, NATIVE, nominal_scales=fitted.nominal_scales,
                                            scales=fitted.scales, image_score="max", bf16=True)
    image, _ = _defective(99)
    want, got = fitted.predict(image).anomaly_map, bf16.predict(image).anomaly_map
    assert not np.array_equal(got, want)  # autocast did run in bfloat16
    assert np.abs(got - want).max() < 0.02 * want.max()
