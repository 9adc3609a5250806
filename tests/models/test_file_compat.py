"""Model files are the same before and after the models/ refactor.

The fixture was written by seqcore 0.1.0's model.py: 5 surfaces of 64x64, capacity 32,
projection to 24 dimensions (seed 4), 3 epochs. Loading and re-saving it, or training again
with the same settings, must give the same tensors and metadata (timings and library
versions aside).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seqcore import FeatureConfig, Sequential, SequentialPatchCore
from seqcore.io import load_model

FIXTURE = Path(__file__).parent / "fixtures" / "patchcore_0.1.0_projection.safetensors"


def _surface(seed: int, h: int = 64, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0)
    return np.clip(base + rng.normal(0, 2, (h, w)), 0, 255).astype(np.uint8)


def _without(meta: dict, *keys: str) -> str:
    meta = {k: v for k, v in meta.items() if k not in keys}
    meta["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in meta["history"]]
    return json.dumps(meta)


def test_load_and_save_keeps_the_file(tmp_path):
    SequentialPatchCore.load(FIXTURE).save(tmp_path / "again.safetensors")
    (old_t, old_m), (new_t, new_m) = load_model(FIXTURE), load_model(tmp_path / "again.safetensors")
    assert old_t.keys() == new_t.keys()
    for name in old_t:
        np.testing.assert_array_equal(new_t[name], old_t[name])
    assert json.dumps({**new_m, "versions": None}) == json.dumps({**old_m, "versions": None})


# seqcore 0.1.0's defaults, stated explicitly (the library's defaults have changed since, issue 14)
OLD_FEATURES = dict(resize_short_side=None, border_pad=8, normalization="backbone", pool_count_pad=False)


def test_training_with_the_same_settings_writes_the_same_file(tmp_path):
    features = FeatureConfig(projection_dim=24, projection_seed=4, **OLD_FEATURES)
    model = SequentialPatchCore(features, capacity=32, seed=4, scales=(3,), image_score="max",
                                strategy=Sequential(stop_fraction=0.0))  # 0.1.0's stop rule: only after none
    model.fit([_surface(s) for s in range(5)], epochs=3, progress=False)
    model.save(tmp_path / "new.safetensors")
    (old_t, old_m), (new_t, new_m) = load_model(FIXTURE), load_model(tmp_path / "new.safetensors")
    np.testing.assert_array_equal(new_t["projection"], old_t["projection"])  # seeded, exact
    np.testing.assert_allclose(new_t["coreset"], old_t["coreset"], rtol=1e-5, atol=1e-5)
    assert _without(new_m, "versions") == _without(old_m, "versions")


def test_old_file_loads_with_the_settings_it_implied():
    """Keys absent from 0.1.0 files read as that version behaved, not as today's defaults."""
    model = SequentialPatchCore.load(FIXTURE)
    assert model.config == FeatureConfig(projection_dim=24, projection_seed=4, **OLD_FEATURES)
    assert model.scales == (3,) and model.nominal_scales is None and model.image_score == "max"
    image = _surface(9)
    image[20:28, 20:28] = 255
    prediction = model.predict(image)
    assert prediction.score == prediction.anomaly_map.max()  # image score = map maximum, as before
