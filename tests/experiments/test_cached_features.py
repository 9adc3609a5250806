"""The evaluation feature cache: bit-identical predictions, one backbone pass per image."""
from __future__ import annotations

import numpy as np

from seqcore.experiments.cached_features import CachingExtractor
from seqcore.features import FeatureConfig
from seqcore.models.patchcore import SequentialPatchCore


def test_cached_predictions_equal_uncached_and_extract_once() -> None:
    rng = np.random.default_rng(0)
    train = [rng.integers(0, 255, (64, 96), dtype=np.uint8) for _ in range(3)]
    test = [rng.integers(0, 255, (64, 96), dtype=np.uint8) for _ in range(2)]
    model = SequentialPatchCore(FeatureConfig(resize_short_side=64), capacity=32)
    model.fit(train, epochs=1, progress=False)
    plain = [model.predict(image) for image in test]
    inner = model.extractor
    cache = CachingExtractor(inner)
    calls = []
    original = inner.iter_tiles_kernels
    inner.iter_tiles_kernels = lambda *a, **k: (calls.append(1), (yield from original(*a, **k)))[1]
    model._extractor = cache
    for _ in range(2):
        for image, reference in zip(test, plain, strict=True):
            got = model.predict(image.copy())  # equal bytes, another array: still a hit
            np.testing.assert_array_equal(got.anomaly_map, reference.anomaly_map)
            assert got.score == reference.score
    assert len(calls) == len(test)  # one backbone pass per distinct image
    other = rng.integers(0, 255, (64, 96), dtype=np.uint8)
    model.predict(other)
    assert len(calls) == len(test) + 1
