"""Model-file metadata: exact round trip of files written before the refactor, defaults, rejections."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from seqcore import FeatureConfig
from seqcore.io import ModelFileError, load_model, save_model
from seqcore.models.schema import PatchCoreMetadata

FIXTURE = Path(__file__).parent / "fixtures" / "patchcore_0.1.0_projection.safetensors"  # written by model.py


@pytest.fixture
def old_meta() -> dict:
    return load_model(FIXTURE)[1]


def test_files_of_seqcore_0_1_0_round_trip_key_for_key(old_meta):
    schema = PatchCoreMetadata.from_dict(old_meta)
    assert schema.features == FeatureConfig(projection_dim=24, projection_seed=4, resize_short_side=None, border_pad=8,
                                            normalization="backbone", pool_count_pad=False)
    assert (schema.scales, schema.nominal_scales, schema.image_score) == ([3], None, "max")
    assert (schema.capacity, schema.feature_dim, schema.method, schema.seed) == (32, 24, "sequential", 4)
    assert json.dumps(schema.to_dict()) == json.dumps(old_meta)  # same keys, order and values


def test_keys_older_files_lack_take_their_historic_defaults(old_meta):
    for key in ("feature_dim", "greedy_projection_dim", "min_patch_brightness", "threshold", "seed", "history",
                "versions"):
        del old_meta[key]
    del old_meta["features"]["border_pad"]
    schema = PatchCoreMetadata.from_dict(old_meta)
    assert schema.feature_dim is None and schema.greedy_projection_dim is None and schema.threshold is None
    assert (schema.seed, schema.history, schema.versions, schema.features.border_pad) == (0, [], {}, 0)


def _set(path: str, value):
    def change(meta: dict) -> None:
        *parents, key = path.split(".")
        target = meta
        for parent in parents:
            target = target[parent]
        if value is KeyError:
            del target[key]
        else:
            target[key] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_set("model", "CutPaste"), "not a SequentialPatchCore model file"),
        (_set("capacity", KeyError), "missing key"),
        (_set("capacity", 0), "capacity must be >= 1"),
        (_set("capacity", "32"), "capacity must be an integer"),
        (_set("capacity", True), "capacity must be an integer"),
        (_set("feature_dim", 0), "feature_dim must be >= 1"),
        (_set("method", "random"), "method must be one of"),
        (_set("greedy_projection_dim", 0), "greedy_projection_dim must be >= 1"),
        (_set("blur_sigma", -1.0), "blur_sigma must be >= 0"),
        (_set("blur_sigma", math.nan), "blur_sigma must be a finite number"),
        (_set("min_patch_brightness", 2.0), r"min_patch_brightness must lie in \[0, 1\]"),
        (_set("threshold", "high"), "threshold must be a finite number"),
        (_set("seed", 1.5), "seed must be an integer"),
        (_set("history", {}), "history must be a list"),
        (_set("versions", {"torch": 2}), "versions must map names"),
        (_set("features", [2, 3]), "features must be an object"),
        (_set("features.backbone", 5), "features.backbone has the wrong type"),
        (_set("features.out_indices", [2, "3"]), "features.out_indices has the wrong type"),
        (_set("features.pool_kernel", "3"), "features.pool_kernel has the wrong type"),
        (_set("features.pretrained", 1), "features.pretrained has the wrong type"),
        (_set("features.normalization", 1), "features.normalization has the wrong type"),
        (_set("features.normalization", "zscore"), "normalization must be one of"),
        (_set("features.out_indices", []), "out_indices must name at least one"),
        (_set("features.tile_size", 100), "tile_size must be a multiple of 16"),
        (_set("features.pool_count_pad", 1), "features.pool_count_pad has the wrong type"),
        (_set("scales", [1, 3]), r"scales\[0\] \(1\) must equal features.pool_kernel \(3\)"),
        (_set("scales", [3, 3]), "scales must be a list of distinct pool kernels"),
        (_set("scales", [3, 1]), "nominal_scales is required with several scales"),
        (_set("nominal_scales", [1.0, 2.0]), "nominal_scales must be 1 positive numbers"),
        (_set("nominal_scales", [0.0]), "nominal_scales must be 1 positive numbers"),
        (_set("image_score", "mean"), "image_score must be one of"),
        (_set("capacity", 1 << 40), "capacity must be <= 65536"),
        (_set("seed", -1), "seed must be >= 0"),
        (_set("threshold", math.inf), "threshold must be a finite number"),
        (_set("feature_dim", 25), "feature_dim is 25, but backbone tf_efficientnet_lite0 levels"),
        (_set("features.out_indices", [2, 9]), "features.out_indices: .* has levels 0..4, not 9"),
        (_set("features.out_indices", [-1, 3]), "features.out_indices is out of range"),
        (_set("features.out_indices", [3, 3]), "repeat a level"),
        (_set("features.out_indices", [2] * 20), "features.out_indices is out of range"),
        (_set("features.backbone", "no_such_net"), "unknown timm backbone 'no_such_net'"),
        (_set("features.border_pad", 4), "border_pad must be a multiple of the feature stride 8"),
        (_set("features.pool_kernel", 10**9), "features.pool_kernel is out of range"),
        (_set("features.projection_seed", -3), "features.projection_seed is out of range"),
    ],
)
def test_bad_metadata_is_rejected(old_meta, change, message):
    change(old_meta)
    with pytest.raises(ModelFileError, match=message):
        PatchCoreMetadata.from_dict(old_meta)


def test_not_an_object_is_rejected():
    with pytest.raises(ModelFileError, match="expected a JSON object"):
        PatchCoreMetadata.from_dict([1, 2])


def _rewrite(tmp_path: Path, change) -> Path:
    tensors, meta = load_model(FIXTURE)
    change(meta)
    path = tmp_path / "changed.safetensors"
    save_model(path, tensors, meta)
    return path


def test_load_names_the_file_and_the_bad_key(tmp_path):
    from seqcore import SequentialPatchCore

    path = _rewrite(tmp_path, _set("blur_sigma", "wide"))
    with pytest.raises(ModelFileError, match=r"changed\.safetensors: invalid model metadata: blur_sigma"):
        SequentialPatchCore.load(path)


def test_load_rejects_levels_the_backbone_does_not_have(tmp_path):
    from seqcore import SequentialPatchCore

    path = _rewrite(tmp_path, _set("features.out_indices", [2, 9]))
    with pytest.raises(ModelFileError, match=r"features.out_indices: .*tf_efficientnet_lite0 has levels 0..4, not 9"):
        SequentialPatchCore.load(path)


def test_load_rejects_tensors_that_do_not_fit_the_metadata(tmp_path):
    from seqcore import SequentialPatchCore

    with pytest.raises(ModelFileError, match="does not fit feature_dim 24 / capacity 8"):
        SequentialPatchCore.load(_rewrite(tmp_path, _set("capacity", 8)))
    tensors, meta = load_model(FIXTURE)
    del tensors["projection"]
    save_model(tmp_path / "noproj.safetensors", tensors, meta)
    with pytest.raises(ModelFileError, match="projection matrix presence"):
        SequentialPatchCore.load(tmp_path / "noproj.safetensors")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("projection", np.zeros((151, 24), np.float32), r"float32 \(151, 24\) does not fit \(152, 24\)"),
        ("projection", np.zeros((152, 24), np.float64), "projection tensor float64"),
        ("projection", np.full((152, 24), np.nan, np.float32), "projection tensor contains NaN"),
        ("coreset", np.zeros((4, 23), np.float32), r"coreset tensor \(4, 23\) does not fit feature_dim 24"),
        ("coreset", np.zeros((0, 24), np.float32), "does not fit feature_dim 24 / capacity 32"),
        ("coreset_1", np.zeros((4, 24), np.float32), r"unexpected \['coreset_1'\]"),
    ],
)
def test_every_tensor_is_checked_against_the_metadata_before_the_backbone_is_built(
        tmp_path, monkeypatch, name, value, message):
    from seqcore import SequentialPatchCore
    from seqcore.features import extractor

    def no_backbone(*args, **kwargs):
        raise AssertionError("the backbone was built for an invalid file")

    monkeypatch.setattr(extractor, "create_backbone", no_backbone)
    tensors, meta = load_model(FIXTURE)
    tensors[name] = value
    path = tmp_path / "bad.safetensors"
    save_model(path, tensors, meta)
    with pytest.raises(ModelFileError, match=message):
        SequentialPatchCore.load(path)


def test_field_checks_cover_every_plain_field():
    """A new metadata field is validated by adding one line to FIELD_CHECKS."""
    from dataclasses import fields

    from seqcore.models.schema import FIELD_CHECKS

    plain = {f.name for f in fields(PatchCoreMetadata)} - {"features", "scales", "nominal_scales"}
    assert plain == set(FIELD_CHECKS)



def test_multi_scale_keys_round_trip_and_are_written_only_when_needed(old_meta):
    old_meta.update(scales=[3, 1], nominal_scales=[2.5, 7.0], image_score="nn")
    schema = PatchCoreMetadata.from_dict(old_meta)
    assert (schema.scales, schema.nominal_scales, schema.image_score) == ([3, 1], [2.5, 7.0], "nn")
    written = schema.to_dict()
    assert list(written)[5:9] == ["greedy_projection_dim", "scales", "nominal_scales", "image_score"]
    assert PatchCoreMetadata.from_dict(written) == schema


def test_threshold_rule_is_stored_and_old_files_read_as_f1(old_meta):
    assert PatchCoreMetadata.from_dict(old_meta).threshold_rule == "f1"
    data = dict(old_meta, threshold=0.5, threshold_rule="recall-at-false-calls:0.01")
    schema = PatchCoreMetadata.from_dict(data)
    assert schema.threshold_rule == "recall-at-false-calls:0.01"
    assert schema.to_dict()["threshold_rule"] == "recall-at-false-calls:0.01"
    for bad in ("f2", 3, "impurity-cap:2"):
        with pytest.raises(ModelFileError, match="threshold"):
            PatchCoreMetadata.from_dict(dict(old_meta, threshold_rule=bad))


def test_pixel_size_is_optional_and_validated(old_meta):
    assert PatchCoreMetadata.from_dict(old_meta).pixel_size_mm is None
    assert "pixel_size_mm" not in PatchCoreMetadata.from_dict(old_meta).to_dict()  # old files write the same keys
    schema = PatchCoreMetadata.from_dict(dict(old_meta, pixel_size_mm=0.025))
    assert schema.pixel_size_mm == 0.025 and PatchCoreMetadata.from_dict(schema.to_dict()) == schema
    for bad in (0, -1.0, float("nan"), "0.1", True, 1e9):
        with pytest.raises(ModelFileError, match="pixel_size_mm"):
            PatchCoreMetadata.from_dict(dict(old_meta, pixel_size_mm=bad))
