"""The fit pipeline (docs/design.md §17): feature cache, producer thread, early stop and checkpoints
leave the fitted model unchanged, byte for byte, against the plain path."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.models.patchcore.checkpoint import CheckpointError, FitCheckpoint
from seqcore.models.patchcore.feature_cache import FeatureCache
from seqcore.models.patchcore.fit_pipeline import prefetched
from seqcore.models.patchcore.strategies import DEFAULT_STOP_FRACTION, Sequential


def _images(count: int = 6, size: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:size, 0:size]
    return [np.clip(110 + 40 * np.sin(xx / (2.0 + i)) + 25 * np.cos(yy / 3.0) + rng.normal(0, 6, (size, size)),
                    0, 255).astype(np.uint8) for i in range(count)]


def _model(stop_fraction: float = 0.0) -> SequentialPatchCore:
    return SequentialPatchCore(FeatureConfig(resize_short_side=None, projection_dim=16, projection_seed=1), capacity=20,
                               strategy=Sequential(stop_fraction), blur_sigma=1.0)


def _fit_bytes(tmp_path, name: str, **fit_args) -> tuple[bytes, object]:
    model = _model(fit_args.pop("stop_fraction", 0.0))
    report = model.fit(_images(), epochs=3, progress=False, **fit_args)
    path = tmp_path / f"{name}.safetensors"
    model.save(path)
    return path.read_bytes(), report


def test_cache_thread_and_cap_fallback_give_the_same_file(tmp_path):
    plain, plain_report = _fit_bytes(tmp_path, "plain", cache_bytes=0, prefetch=False)
    cached, report = _fit_bytes(tmp_path, "cached")
    capped, capped_report = _fit_bytes(tmp_path, "capped", cache_bytes=30_000)  # room for a few images only
    assert plain_report.cache_bytes == 0 and report.cache_bytes > capped_report.cache_bytes > 0
    assert capped_report.cache_bytes <= 30_000
    assert sum(report.replacements) > 0 and report.replacements == plain_report.replacements
    assert cached == plain and capped == plain


def test_feature_cache_round_trip_and_deletion(tmp_path):
    rng = np.random.default_rng(0)
    cache = FeatureCache(10_000, directory=tmp_path)
    tiles = [[rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)]]
    assert cache.put(0, tiles) and cache.put(1, []) and 1 in cache and 2 not in cache
    assert not cache.put(2, [[np.zeros((1000, 3), np.float32)]]) and cache.full and 2 not in cache
    for got, want in zip(cache.get(0)[0], tiles[0], strict=True):
        np.testing.assert_array_equal(got, want)
    assert cache.get(1) == [] and cache.bytes == 4 * (15 + 20)
    directory = cache.directory
    cache.close()
    assert not directory.exists()


def test_prefetched_keeps_order_and_reraises():
    assert list(prefetched(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise RuntimeError("decode failed")

    with pytest.raises(RuntimeError, match="decode failed"):
        list(prefetched(failing()))
    items = prefetched(iter(range(1000)))
    assert next(items) == 0
    items.close()  # the consumer stops early: the producer thread ends


def test_early_stop_rule_and_default():
    assert DEFAULT_STOP_FRACTION == 0.1 and Sequential().stop_fraction == DEFAULT_STOP_FRACTION
    old = _model(0.0)
    old_report = old.fit(_images(), epochs=4, progress=False)
    counts = old_report.replacements  # the rule, applied by hand to the run without early stopping
    fraction = (counts[1] + 0.5) / old.capacity  # epoch 2 is the first at or below this fraction
    assert counts[1] <= fraction * old.capacity < counts[0]
    new = _model(fraction)
    report = new.fit(_images(), epochs=4, progress=False)
    assert report.replacements == counts[:2] and report.stop_reason.startswith("replacements <=")
    np.testing.assert_array_equal(new.coreset.points, _fitted_points(2))
    with pytest.raises(ValueError, match="stop_fraction"):
        Sequential(1.0)


def _fitted_points(epochs: int) -> np.ndarray:
    model = _model(0.0)
    model.fit(_images(), epochs=epochs, progress=False)
    return model.coreset.points


class _Crash(Exception):
    pass


class _Crashing(list):
    """The images, raising at item ``at`` of the ``epoch``-th pass (a kill, seen from the fit)."""

    def __init__(self, images, epoch: int, at: int) -> None:
        super().__init__(images)
        self.epoch, self.at, self.reads = epoch, at, 0

    def __getitem__(self, index):
        if index == 0:
            self.reads += 1
        if self.reads == self.epoch and index == self.at:
            raise _Crash
        return super().__getitem__(index)


def test_checkpoint_resume_gives_the_same_file_and_refuses_other_settings(tmp_path):
    plain, _ = _fit_bytes(tmp_path, "plain")
    directory = tmp_path / "ckpt"
    crashing = _Crashing(_images(), epoch=2, at=4)
    with pytest.raises(_Crash):
        _model().fit(crashing, epochs=3, progress=False, cache_bytes=0,  # no cache: epoch 2 reads the data
                     checkpoint=FitCheckpoint(directory, 2, {}, _images()))
    assert (directory / "checkpoint.npz").exists()
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        FitCheckpoint(directory, 2, {}, _images())
    with pytest.raises(CheckpointError, match="other settings or data"):
        _model().fit(_images()[:5], epochs=3, progress=False,
                     checkpoint=FitCheckpoint(directory, 2, {}, _images()[:5], resume=True))
    with pytest.raises(CheckpointError, match="another model configuration"):
        _model(0.5).fit(_images(), epochs=3, progress=False,
                        checkpoint=FitCheckpoint(directory, 2, {}, _images(), resume=True))
    model = _model()
    model.fit(_images(), epochs=3, progress=False, checkpoint=FitCheckpoint(directory, 2, {}, _images(), resume=True))
    model.save(tmp_path / "resumed.safetensors")
    assert (tmp_path / "resumed.safetensors").read_bytes() == plain
