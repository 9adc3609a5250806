"""Integration on ~10 real magnetic-tile images: fit, calibrate, predict, save/load."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.data import MagneticTileDataset
from seqcore.models import calibrate

pytestmark = pytest.mark.slow


def test_magnetic_tile_pipeline(magnetic_tile_root, tmp_path):
    train = MagneticTileDataset(magnetic_tile_root, "train")
    val = MagneticTileDataset(magnetic_tile_root, "val")
    model = SequentialPatchCore(FeatureConfig(resize_short_side=128), capacity=256)
    report = model.fit([train[i] for i in range(6)], epochs=2, progress=False)
    assert model.coreset.size == 256 and report.replacements[0] > 0

    defect_idx = [i for i, e in enumerate(val.entries) if e.label != "free"][:3]
    nominal_idx = [i for i, e in enumerate(val.entries) if e.label == "free"][:1]
    samples = [val[i] for i in defect_idx + nominal_idx]
    threshold = calibrate(model, samples, defect_classes=val.defect_classes, progress=False)
    assert np.isfinite(threshold) and model.threshold == threshold

    sample = samples[0]
    pred = model.predict(sample)
    assert pred.anomaly_map.shape == sample.image.shape
    defect = sample.gt.class_mask > 0
    assert pred.anomaly_map[defect].mean() > pred.anomaly_map[~defect].mean()

    model.save(tmp_path / "mt.safetensors")
    loaded = SequentialPatchCore.load(tmp_path / "mt.safetensors")
    assert loaded.threshold == threshold
    np.testing.assert_array_equal(loaded.predict(sample).anomaly_map, pred.anomaly_map)
