"""PatchCore's image score with 3 nearest neighbours ("nn3"): equal to the reweighting rule computed
independently with k = 3, different from k = 9, and the setting kept through save/load."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.features import FeatureConfig
from seqcore.models.patchcore import SequentialPatchCore
from seqcore.models.patchcore.scoring import bank_neighbours, nn_reweighted_score


def _image(seed: int, defect: bool = False) -> np.ndarray:
    image = np.random.default_rng(seed).integers(90, 140, (48, 48)).astype(np.uint8)
    if defect:
        image[20:28, 20:28] = 250
    return image


@pytest.fixture(scope="module")
def model() -> SequentialPatchCore:
    m = SequentialPatchCore(FeatureConfig(pretrained=False, resize_short_side=None), capacity=64, scales=(3,),
                            image_score="nn3")
    m.fit([_image(k) for k in range(3)], epochs=1)
    return m


def test_nn3_matches_independent_rule(model, tmp_path):
    image = _image(10, defect=True)
    prepared = model.extractor.prepare(image)
    grids, index, primary = model.bank_grids(prepared)
    points = model.coreset.points
    expected = nn_reweighted_score(grids[0], index, primary, points, bank_neighbours(points, 3))
    assert model.predict(image).score == pytest.approx(expected, rel=1e-6)
    nine = nn_reweighted_score(grids[0], index, primary, points, bank_neighbours(points, 9))
    assert expected != pytest.approx(nine, rel=1e-9)
    path = tmp_path / "m.safetensors"
    model.save(path)
    # (random backbone weights are not stored, so only the setting is compared after loading)
    assert SequentialPatchCore.load(path).image_score == "nn3"
