"""fit_features against the NumPy reference coreset: stop reasons, per-epoch counts, greedy fine-tuning."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore import FeatureConfig, Greedy, ReferenceCoreset, Sequential, SequentialPatchCore, greedy_kcenter

DIM = 152  # EfficientNet-Lite0 levels 2 and 3; random weights (pretrained=False) give the same width
RANDOM_WEIGHTS = FeatureConfig(pretrained=False)  # used with scales=(3,): one bank, compared with one reference


def _vectors(n: int, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n, DIM)) + shift).astype(np.float32)


def _reference_fit(batches: list[np.ndarray], capacity: int, epochs: int) -> tuple[ReferenceCoreset, list[int], str]:
    """The documented loop on the reference: stop when not full after a pass or a pass replaced nothing."""
    core, replaced = ReferenceCoreset(capacity, DIM), []
    for _ in range(epochs):
        replaced.append(sum(core.offer_batch(b) for b in batches))
        if core.size < capacity:
            return core, replaced, "coreset not full: every patch kept"
        if replaced[-1] == 0:
            return core, replaced, "no replacements"
    return core, replaced, "max epochs"


@pytest.mark.parametrize(
    "capacity, count, epochs, reason",
    [(50, 30, 5, "coreset not full: every patch kept"), (12, 12, 5, "no replacements"), (8, 60, 2, "max epochs")],
)
def test_fit_features_follows_the_reference_coreset(capacity, count, epochs, reason):
    batches = [_vectors(count // 3, seed) for seed in range(3)]
    model = SequentialPatchCore(RANDOM_WEIGHTS, scales=(3,), capacity=capacity, strategy=Sequential(stop_fraction=0.0))
    report = model.fit_features(lambda: iter(batches), epochs=epochs, progress=False)  # the reference's stop rule
    core, replaced, expected_reason = _reference_fit(batches, capacity, epochs)
    assert report.stop_reason == expected_reason == reason
    assert report.replacements == replaced and report.patches == [count] * len(replaced)
    np.testing.assert_array_equal(model.coreset.points, core.points)
    assert model.history[-1] == {k: v for k, v in report.to_dict().items() if k != "seconds"}  # files hold no times


def test_fit_features_keeps_every_vector_in_order_when_they_fit():
    vectors = _vectors(30)
    model = SequentialPatchCore(RANDOM_WEIGHTS, scales=(3,), capacity=50)
    report = model.fit_features(lambda: [vectors[:10], vectors[10:]], epochs=3, progress=False)
    assert report.epochs == 1 and report.replacements == [0]
    np.testing.assert_array_equal(model.coreset.points, vectors)


def test_greedy_fine_tuning_selects_from_the_old_coreset_and_the_new_patches():
    old, new = _vectors(40, 1), _vectors(20, 2, shift=0.5)
    model = SequentialPatchCore(RANDOM_WEIGHTS, scales=(3,), capacity=16, strategy=Greedy(projection_dim=None))
    model.fit_features(lambda: [old], progress=False)
    first = model.coreset.points
    np.testing.assert_array_equal(first, old[greedy_kcenter(old, 16)])
    report = model.fit_features(lambda: [new], progress=False)
    assert report.stop_reason == "greedy k-center" and report.patches == [20]
    pool = np.concatenate([first, new])
    np.testing.assert_array_equal(model.coreset.points, pool[greedy_kcenter(pool, 16)])
    kept_old = (model.coreset.points[:, None] == first[None]).all(axis=2).any(axis=1)
    assert 0 < kept_old.sum() < 16  # old points stay candidates next to the new ones
