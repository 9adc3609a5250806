"""SequentialPatchCore.load rejections, check_compatible and meld thresholds, on backbone-free fits."""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seqcore import FeatureConfig, ModelFileError, SequentialPatchCore, load_model, save_model
from seqcore.models.patchcore import IncompatibleModelsError, check_compatible


def _fitted(capacity: int = 8, seed: int = 0, **features) -> SequentialPatchCore:
    """A model fitted on random vectors through fit_features (random backbone weights, nothing extracted)."""
    config = FeatureConfig(pretrained=False, **features)
    model = SequentialPatchCore(config, capacity=capacity, scales=(config.pool_kernel,))  # one bank of vectors
    vectors = np.random.default_rng(seed).standard_normal((3 * capacity, model.dim)).astype(np.float32)
    model.fit_features(lambda: [vectors], epochs=1, progress=False)
    return model


@pytest.fixture(scope="module")
def base() -> SequentialPatchCore:
    return _fitted()


@pytest.fixture(scope="module")
def saved(base, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("load") / "model.safetensors"
    base.save(path)
    return path


def _edited(saved: Path, tmp_path: Path, edit) -> Path:
    """A copy of the saved file after ``edit(tensors, meta)`` changed it in place."""
    tensors, meta = load_model(saved)
    edit(tensors, meta)
    path = tmp_path / "edited.safetensors"
    save_model(path, tensors, meta)
    return path


def test_the_unedited_file_loads(saved):
    model = SequentialPatchCore.load(saved)
    assert model.coreset.size == 8 and model.dim == 152 and model.capacity == 8


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t, m: m.update(model="PatchCore"),
         r"invalid model metadata: not a SequentialPatchCore model file \(model='PatchCore'\)"),
        (lambda t, m: m.pop("capacity"), r"invalid model metadata: missing key\(s\) capacity"),
        (lambda t, m: t.update(coreset=t["coreset"][:, :100]),
         r"coreset tensor \(8, 100\) does not fit feature_dim 152 / capacity 8"),
        (lambda t, m: m.update(feature_dim=151),
         r"feature_dim is 151, but backbone tf_efficientnet_lite0 levels \[2, 3\] \(projection_dim None\) give 152"),
        (lambda t, m: m.update(capacity=4), r"coreset tensor \(8, 152\) does not fit feature_dim 152 / capacity 4"),
        (lambda t, m: t.update(projection=np.zeros((152, 24), np.float32)),
         "projection matrix presence does not match projection_dim"),
        (lambda t, m: m["features"].update(projection_dim=24),
         r"feature_dim is 152, but .* \(projection_dim 24\) give 24"),
        (lambda t, m: (t.update(coreset=t["coreset"][:, :100]), m.update(feature_dim=100)),
         r"feature_dim is 100, but backbone tf_efficientnet_lite0 levels \[2, 3\] \(projection_dim None\) give 152"),
    ],
    ids=["other-kind", "no-capacity", "coreset-dim", "feature-dim", "capacity", "extra-projection",
         "missing-projection", "backbone-dim"],
)
def test_load_rejects_inconsistent_files(saved, tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        SequentialPatchCore.load(_edited(saved, tmp_path, edit))


def test_only_a_different_projection_matrix_is_incompatible(tmp_path):
    model = _fitted(projection_dim=24)
    model.save(tmp_path / "p.safetensors")
    same = SequentialPatchCore.load(tmp_path / "p.safetensors")
    check_compatible(model, same)
    other = SequentialPatchCore.load(
        _edited(tmp_path / "p.safetensors", tmp_path, lambda t, m: t.update(projection=2 * t["projection"]))
    )
    assert other.config == model.config
    with pytest.raises(IncompatibleModelsError, match="projection matrices differ$"):
        check_compatible(model, other)


def _with_tiling(model: SequentialPatchCore, **tiling) -> SequentialPatchCore:
    """A shallow copy whose feature config differs only in its tiling."""
    other = copy.copy(model)
    other.config = replace(model.config, **tiling)
    return other


def test_meld_refuses_models_with_different_tiling(base):
    with pytest.raises(IncompatibleModelsError, match="tile_size: 1024 vs 512"):
        SequentialPatchCore.meld([base, _with_tiling(base, tile_size=512)])
    with pytest.raises(IncompatibleModelsError, match="tile_overlap: 128 vs 64"):
        SequentialPatchCore.meld([base, _with_tiling(base, tile_overlap=64)])
    untiled = _with_tiling(base, tile_size=None)
    melded = SequentialPatchCore.meld([untiled, _with_tiling(base, tile_size=None, tile_overlap=0)])
    np.testing.assert_array_equal(melded.coreset.points, base.coreset.points)


@pytest.mark.parametrize("thresholds, kept", [((1.5, 1.5, 1.5), 1.5), ((1.5, 2.0), None), ((1.5, None), None)])
def test_meld_keeps_the_threshold_only_when_all_agree(base, thresholds, kept):
    models = [copy.copy(base) for _ in thresholds]  # shallow copies: own threshold, shared coreset
    for model, threshold in zip(models, thresholds, strict=True):
        model.threshold = threshold
    assert SequentialPatchCore.meld(models).threshold == kept
    assert base.threshold is None
