"""The PatchCore model-file metadata: one dataclass, written and read with full validation.

The JSON keys, their order and their values are the file format (shared with the C++ reader
and older files): ``to_dict`` writes exactly what earlier versions wrote for a model they could
have written, ``from_dict`` reads their files (keys they lack take the values those files
implied: one bank, image score = map maximum) and rejects anything malformed with ModelFileError.

Multi-scale keys (issue 14): ``scales`` (the banks' pool kernels, first = features.pool_kernel),
``nominal_scales`` (each bank's score normaliser, required with several banks) and
``image_score`` ("max", or "nn"/"nn3": PatchCore's reweighting with 9/3 bank neighbours).
``threshold_rule`` (issue 21): the rule that chose ``threshold`` (metrics.operating syntax, e.g.
"recall-at-false-calls:0.01"); written only when not "f1", and files without it read as "f1".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqcore.features.config import FeatureConfig

PATCHCORE_KIND = "SequentialPatchCore"
METHOD_NAMES = ("sequential", "greedy")
IMAGE_SCORE_NAMES = ("max", "nn", "nn3")


def _error(message: str) -> Exception:
    from seqcore.io import ModelFileError

    return ModelFileError(f"invalid model metadata: {message}")


def _int(data: dict, key: str, minimum: int | None = None, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(f"{key} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _error(f"{key} must be >= {minimum}, got {value}")
    return value


def _number(data: dict, key: str, optional: bool = False) -> float | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _error(f"{key} must be a finite number, got {value!r}")
    return value


# JSON type of each feature setting (None allowed where the FeatureConfig field is optional)
_FEATURE_TYPES: dict[str, tuple[type, bool]] = {
    "backbone": (str, False), "out_indices": (list, False), "pool_kernel": (int, False),
    "resize_short_side": (int, True), "projection_dim": (int, True), "projection_seed": (int, False),
    "pretrained": (bool, False), "tile_size": (int, True), "tile_overlap": (int, False),
    "resize_shape": (list, True), "border_pad": (int, False), "normalization": (str, False),
    "pool_count_pad": (bool, False),
}


def _feature_config(features: Any) -> FeatureConfig:
    """FeatureConfig from the file's "features" object, type-checked before FeatureConfig's own checks."""
    if not isinstance(features, dict):
        raise _error(f"features must be an object, got {features!r}")
    for key, (kind, optional) in _FEATURE_TYPES.items():
        if key not in features or (optional and features[key] is None):
            continue
        value = features[key]
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if kind is list and not wrong:
            wrong = not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if wrong:
            raise _error(f"features.{key} has the wrong type: {value!r}")
    try:
        return FeatureConfig.from_dict(features)
    except (TypeError, ValueError) as exc:
        raise _error(f"features: {exc}") from exc


def versions() -> dict[str, str]:
    """Versions of the libraries that produced a model (recorded, not checked, on load)."""
    import timm
    import torch

    from seqcore import __version__

    return {"seqcore": __version__, "torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__}


@dataclass
class PatchCoreMetadata:
    """Everything besides the tensors that is needed to reproduce a PatchCore model's predictions."""

    features: FeatureConfig
    feature_dim: int | None  # None only in files that predate the key: then the coreset's width
    capacity: int
    method: str = "sequential"  # training strategy name
    greedy_projection_dim: int | None = None
    scales: list[int] | None = None  # None: one bank at features.pool_kernel (files before issue 14)
    nominal_scales: list[float] | None = None
    image_score: str = "max"
    blur_sigma: float = 2.0
    min_patch_brightness: float | None = None
    threshold: float | None = None
    threshold_rule: str = "f1"
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scales is None and isinstance(self.features, FeatureConfig):
            self.scales = [self.features.pool_kernel]
        self.validate()

    def validate(self) -> None:
        """Types and ranges of every field; ModelFileError names the first bad one."""
        if not isinstance(self.features, FeatureConfig):
            raise _error(f"features must be a FeatureConfig, got {type(self.features).__name__}")
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        _int(data, "feature_dim", 1, optional=True)
        _int(data, "capacity", 1)
        if self.method not in METHOD_NAMES:
            raise _error(f"method must be one of {METHOD_NAMES}, got {self.method!r}")
        _int(data, "greedy_projection_dim", 1, optional=True)
        self._validate_scales()
        if _number(data, "blur_sigma") < 0:
            raise _error(f"blur_sigma must be >= 0, got {self.blur_sigma}")
        brightness = _number(data, "min_patch_brightness", optional=True)
        if brightness is not None and not 0.0 <= brightness <= 1.0:
            raise _error(f"min_patch_brightness must lie in [0, 1], got {brightness}")
        _number(data, "threshold", optional=True)
        self._validate_threshold_rule()
        _int(data, "seed")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise _error("history must be a list of objects")
        if not isinstance(self.versions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.versions.items()
        ):
            raise _error("versions must map names to version strings")

    def _validate_threshold_rule(self) -> None:
        from seqcore.metrics.operating import ThresholdRule

        if not isinstance(self.threshold_rule, str):
            raise _error(f"threshold_rule must be a string, got {self.threshold_rule!r}")
        try:
            ThresholdRule.parse(self.threshold_rule)
        except ValueError as exc:
            raise _error(str(exc)) from exc

    def _validate_scales(self) -> None:
        scales = self.scales
        if not isinstance(scales, list) or not scales or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in scales
        ) or len(set(scales)) != len(scales):
            raise _error(f"scales must be a list of distinct pool kernels >= 1, got {scales!r}")
        if scales[0] != self.features.pool_kernel:
            raise _error(f"scales[0] ({scales[0]}) must equal features.pool_kernel ({self.features.pool_kernel})")
        values = self.nominal_scales
        if values is None:
            if len(scales) > 1:
                raise _error("nominal_scales is required with several scales")
        elif not isinstance(values, list) or len(values) != len(scales) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values
        ):
            raise _error(f"nominal_scales must be {len(scales)} positive numbers, got {values!r}")
        if self.image_score not in IMAGE_SCORE_NAMES:
            raise _error(f"image_score must be one of {IMAGE_SCORE_NAMES}, got {self.image_score!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON metadata in file order (``"model"`` first); the multi-scale keys only when they
        differ from what older files implied (so such models write the very same metadata)."""
        data = {
            "model": PATCHCORE_KIND,
            "features": self.features.to_dict(),
            "feature_dim": self.feature_dim,
            "capacity": self.capacity,
            "method": self.method,
            "greedy_projection_dim": self.greedy_projection_dim,
        }
        if self.scales != [self.features.pool_kernel] or self.nominal_scales is not None:
            data["scales"] = list(self.scales)
            data["nominal_scales"] = self.nominal_scales
        if self.image_score != "max":
            data["image_score"] = self.image_score
        data |= {
            "blur_sigma": self.blur_sigma,
            "min_patch_brightness": self.min_patch_brightness,
            "threshold": self.threshold,
        }
        if self.threshold_rule != "f1":
            data["threshold_rule"] = self.threshold_rule
        return data | {
            "seed": self.seed,
            "history": self.history,
            "versions": self.versions,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PatchCoreMetadata:
        """Read a file's metadata; ModelFileError on a foreign kind, missing keys or bad values."""
        if not isinstance(data, dict):
            raise _error(f"expected a JSON object, got {type(data).__name__}")
        if data.get("model") != PATCHCORE_KIND:
            raise _error(f"not a {PATCHCORE_KIND} model file (model={data.get('model')!r})")
        missing = [key for key in ("features", "capacity", "method", "blur_sigma") if key not in data]
        if missing:
            raise _error(f"missing key(s) {', '.join(missing)}")
        return cls(
            features=_feature_config(data["features"]),
            feature_dim=data.get("feature_dim"),
            capacity=data["capacity"],
            method=data["method"],
            greedy_projection_dim=data.get("greedy_projection_dim"),
            scales=data.get("scales"),
            nominal_scales=data.get("nominal_scales"),
            image_score=data.get("image_score", "max"),
            blur_sigma=data["blur_sigma"],
            min_patch_brightness=data.get("min_patch_brightness"),
            threshold=data.get("threshold"),
            threshold_rule=data.get("threshold_rule", "f1"),
            seed=data.get("seed", 0),
            history=data.get("history", []),
            versions=data.get("versions", {}),
        )
