"""Every registered method satisfies the Method protocol: isinstance, fit, predict, save, load."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seqcore.io import ModelFileError, load_model, save_model
from seqcore.models import METHODS, Method, Prediction, load_method, method_class
from seqcore.models.cutpaste import CutPasteConfig

# (constructor, fit) keyword arguments that keep a method's fit to seconds; the protocol is the same
SMALL: dict[str, tuple[dict, dict]] = {
    "cutpaste": ({"resize_short_side": 64, "patch": 64, "stride": 32},
                 {"config": CutPasteConfig(epochs=1, steps_per_epoch=2, batch_size=2, held_out=4, gde_windows=16)}),
}


def _images(count: int = 2, size: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    return [np.clip(120 + 30 * np.sin(xx / 3.0 + k) + rng.normal(0, 2, (size, size)), 0, 255).astype(np.uint8)
            for k in range(count)]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_registered_method_round_trip(name, tmp_path):
    cls = method_class(name)
    init, fit = SMALL.get(name, ({}, {}))
    model = cls(**init)
    assert isinstance(model, Method)
    report = model.fit(_images(), **fit)
    json.dumps(report.to_dict())  # reports are stored in model histories
    probe = _images(3)[2]
    prediction = model.predict(probe)
    assert isinstance(prediction, Prediction)
    assert prediction.anomaly_map.shape == probe.shape and prediction.anomaly_map.dtype == np.float32
    assert isinstance(prediction.score, float) and np.isfinite(prediction.score)
    assert prediction.anomalous is None  # no threshold yet
    model.threshold = prediction.score
    assert model.predict(probe).anomalous is True

    path = tmp_path / f"{name}.safetensors"
    model.save(path)
    assert load_model(path, coreset=False)[1] == json.loads(json.dumps(model.metadata()))
    for loaded in (cls.load(path), load_method(path)):
        assert type(loaded) is cls and isinstance(loaded, Method)
        assert loaded.threshold == model.threshold
        np.testing.assert_array_equal(loaded.predict(probe).anomaly_map, prediction.anomaly_map)


def test_non_methods_fail_the_protocol():
    class FitOnly:
        threshold = None

        def fit(self, data):
            return None

    assert not isinstance(FitOnly(), Method)
    assert not isinstance(object(), Method)


def test_unknown_names_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match=f"unknown method 'segnet'; registered: {', '.join(sorted(METHODS))}"):
        method_class("segnet")
    path = tmp_path / "other.safetensors"
    save_model(path, {"coreset": np.zeros((2, 3), np.float32)}, {"model": "Foreign"})
    with pytest.raises(ModelFileError, match="no registered method writes model files of kind 'Foreign'"):
        load_method(path)
