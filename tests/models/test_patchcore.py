"""PatchCore pieces: building from a trained coreset, strategy objects and their file names."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore import FeatureConfig, Greedy, Sequential, SequentialCoreset, SequentialPatchCore
from seqcore.models.patchcore import strategy_named


def _surface(seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    return np.clip(120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 2, (size, size)),
                   0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def fitted() -> SequentialPatchCore:
    model = SequentialPatchCore(FeatureConfig(projection_dim=16, projection_seed=2), capacity=24, blur_sigma=1.0,
                                scales=(3,))  # one bank: from_coreset below rebuilds it from that coreset
    model.fit([_surface(s) for s in range(3)], epochs=2, progress=False)
    return model


def test_from_coreset_with_the_extractor_shares_it(fitted):
    model = SequentialPatchCore.from_coreset(fitted.coreset, fitted.extractor, blur_sigma=1.0, threshold=0.5)
    assert model.extractor is fitted.extractor and model.capacity == 24 and model.threshold == 0.5
    probe = _surface(9)
    np.testing.assert_array_equal(model.predict(probe).anomaly_map, fitted.predict(probe).anomaly_map)


def test_from_coreset_with_a_config_uses_the_given_projection(fitted):
    points = fitted.coreset.points
    coreset = SequentialCoreset.from_points(points, capacity=30)
    model = SequentialPatchCore.from_coreset(coreset, fitted.config, projection=fitted.extractor.projection,
                                             blur_sigma=1.0, history=[{"note": "x"}])
    assert model.capacity == 30 and model.history == [{"note": "x"}]
    np.testing.assert_array_equal(model.extractor.projection, fitted.extractor.projection)
    probe = _surface(8)
    np.testing.assert_array_equal(model.predict(probe).anomaly_map, fitted.predict(probe).anomaly_map)


def test_from_coreset_rejects_conflicting_arguments(fitted):
    with pytest.raises(TypeError, match="capacity from the coreset"):
        SequentialPatchCore.from_coreset(fitted.coreset, fitted.extractor, capacity=8)
    with pytest.raises(TypeError, match="come from the given extractor"):
        SequentialPatchCore.from_coreset(fitted.coreset, fitted.extractor, device="cpu")
    with pytest.raises(ValueError,
                       match=r"coreset has d=16, the features \(backbone tf_efficientnet_lite0\) give d=152"):
        SequentialPatchCore.from_coreset(fitted.coreset, FeatureConfig())


def test_strategies_name_the_file_method_and_greedy_keeps_its_projection():
    assert strategy_named("sequential") == Sequential() and strategy_named("greedy", 64) == Greedy(64)
    assert Greedy().projection_dim == 128
    with pytest.raises(ValueError, match="method must be one of"):
        strategy_named("random")
    with pytest.raises(ValueError, match="projection_dim"):
        Greedy(0)
    greedy = SequentialPatchCore(capacity=20, strategy=Greedy(None))
    greedy.fit([_surface(1)], epochs=3, progress=False)
    meta = greedy.metadata()
    assert (meta["method"], meta["greedy_projection_dim"], greedy.history[-1]["epochs"]) == ("greedy", None, 1)
    assert SequentialPatchCore(capacity=20).strategy == Sequential()

