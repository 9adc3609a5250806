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
``pixel_size_mm`` (issue 21): mm per pixel of the training images, for defect areas in mm²; written
only when set, and files without it read as unknown (None).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqcore.features.config import FeatureConfig
from seqcore.features.levels import selected_levels

PATCHCORE_KIND = "SequentialPatchCore"
METHOD_NAMES = ("sequential", "greedy")
IMAGE_SCORE_NAMES = ("max", "nn", "nn3")


def _error(message: str) -> Exception:
    from seqcore.errors import ModelFileError

    return ModelFileError(f"invalid model metadata: {message}")


MAX_CAPACITY = 1 << 16  # a K x K float64 distance matrix of 32 GiB: no file asks for more
MAX_SIZE = 1 << 16  # ceiling of dimensions, kernels and pixel sizes in a file (far above any real one)
MAX_SEED = 2**63 - 1

Check = Callable[[Any], "str | None"]  # the problem with a value, or None when it is fine


def _integer(minimum: int | None = None, maximum: int | None = None, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        if minimum is not None and value < minimum:
            return f"must be >= {minimum}, got {value}"
        if maximum is not None and value > maximum:
            return f"must be <= {maximum}, got {value}"
        return None

    return check


def _number(minimum: float | None = None, maximum: float | None = None, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            return f"must lie in [{minimum:g}, {maximum:g}], got {value}"
        if minimum is not None and value < minimum:
            return f"must be >= {minimum:g}, got {value}"
        return None

    return check


def _positive(maximum: float, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        return None if 0 < value <= maximum else f"must lie in (0, {maximum:g}], got {value}"

    return check


def _one_of(names: tuple[str, ...]) -> Check:
    return lambda value: None if isinstance(value, str) and value in names else f"must be one of {names}, got {value!r}"


def _history(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(h, dict) for h in value)
    return None if ok else "must be a list of objects"


def _threshold_rule(value: Any) -> str | None:
    from seqcore.metrics.operating import ThresholdRule

    if not isinstance(value, str):
        return f"must be a string, got {value!r}"
    try:
        ThresholdRule.parse(value)
    except ValueError as exc:
        return f"is not a threshold rule: {exc}"
    return None


def _versions(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return None if ok else "must map names to version strings"


# One line per plain metadata field: add optional fields here (cross-field rules: PatchCoreMetadata.validate)
FIELD_CHECKS: dict[str, Check] = {
    "feature_dim": _integer(1, MAX_SIZE, optional=True),
    "capacity": _integer(1, MAX_CAPACITY),
    "method": _one_of(METHOD_NAMES),
    "greedy_projection_dim": _integer(1, MAX_SIZE, optional=True),
    "image_score": _one_of(IMAGE_SCORE_NAMES),
    "blur_sigma": _number(0.0),
    "min_patch_brightness": _number(0.0, 1.0, optional=True),
    "threshold": _number(optional=True),
    "threshold_rule": _threshold_rule,
    "pixel_size_mm": _positive(MAX_SIZE, optional=True),
    "seed": _integer(0, MAX_SEED),
    "history": _history,
    "versions": _versions,
}


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
        limit = MAX_SEED if key == "projection_seed" else MAX_SIZE
        numbers = value if kind is list else [value] if kind is int else []
        if len(numbers) > 8 or any(not 0 <= v <= limit for v in numbers):
            raise _error(f"features.{key} is out of range: {value!r}")
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
    pixel_size_mm: float | None = None  # mm per pixel of the images, None when unknown
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scales is None and isinstance(self.features, FeatureConfig):
            self.scales = [self.features.pool_kernel]
        self.validate()

    def validate(self) -> None:
        """Types and ranges of every field (FIELD_CHECKS), then the rules that tie fields together
        (scales, backbone levels); ModelFileError names the first bad field."""
        if not isinstance(self.features, FeatureConfig):
            raise _error(f"features must be a FeatureConfig, got {type(self.features).__name__}")
        for name, check in FIELD_CHECKS.items():
            problem = check(getattr(self, name))
            if problem is not None:
                raise _error(f"{name} {problem}")
        self._validate_scales()
        self._validate_levels()

    def raw_dim(self) -> int:
        """Width of the backbone's concatenated levels (before any projection)."""
        return sum(level.channels for level in selected_levels(self.features.backbone, self.features.out_indices))

    def expected_dim(self) -> int:
        """Width of every bank's points: projection_dim, or the levels' channels."""
        return self.features.projection_dim or self.raw_dim()

    def _validate_levels(self) -> None:
        """out_indices against the backbone's level table, border_pad against its stride, feature_dim
        against the levels' channels (or projection_dim)."""
        features = self.features
        try:
            levels = selected_levels(features.backbone, features.out_indices)
        except ValueError as exc:
            raise _error(f"features.out_indices: {exc}") from exc
        if features.border_pad % levels[0].stride:
            raise _error(f"features.border_pad must be a multiple of the feature stride {levels[0].stride}, "
                         f"got {features.border_pad}")
        expected = self.expected_dim()
        if self.feature_dim is not None and self.feature_dim != expected:
            raise _error(f"feature_dim is {self.feature_dim}, but backbone {features.backbone} levels "
                         f"{list(features.out_indices)} (projection_dim {features.projection_dim}) give {expected}")

    def _validate_scales(self) -> None:
        scales = self.scales
        if not isinstance(scales, list) or not scales or not all(
            isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_SIZE for k in scales
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

    def bank_names(self) -> list[str]:
        """Tensor names of the banks, one per scale: "coreset", "coreset_1", ..."""
        return ["coreset"] + [f"coreset_{i}" for i in range(1, len(self.scales))]

    def check_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Every bank (n, d) float32 with 1 <= n <= capacity, d = the metadata's width, finite; the
        projection (raw width, projection_dim) float32 and finite exactly when projection_dim is set."""
        names = self.bank_names()
        extra = sorted(k for k in tensors if k.startswith("coreset_") and k not in names)
        missing = [name for name in names if name not in tensors]
        if missing or extra:
            raise _error(f"{len(self.scales)} scale(s) need tensors {names}; missing {missing}, unexpected {extra}")
        dim = self.expected_dim()
        for name in names:
            points = tensors[name]
            if points.dtype != np.float32:
                raise _error(f"{name} tensor must be float32, got {points.dtype}")
            if points.ndim != 2 or points.shape[1] != dim or not 1 <= len(points) <= self.capacity:
                raise _error(f"{name} tensor {points.shape} does not fit feature_dim {dim} / capacity {self.capacity}")
        projection = tensors.get("projection")
        if (projection is None) != (self.features.projection_dim is None):
            raise _error("projection matrix presence does not match projection_dim")
        if projection is not None and (projection.dtype != np.float32 or projection.shape != (
                self.raw_dim(), self.features.projection_dim)):
            raise _error(f"projection tensor {projection.dtype} {projection.shape} does not fit "
                         f"({self.raw_dim()}, {self.features.projection_dim}) float32")
        for name in [*names, "projection"]:
            if name in tensors and not np.isfinite(tensors[name]).all():
                raise _error(f"{name} tensor contains NaN or inf")

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
        if self.pixel_size_mm is not None:
            data["pixel_size_mm"] = self.pixel_size_mm
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
            pixel_size_mm=data.get("pixel_size_mm"),
            seed=data.get("seed", 0),
            history=data.get("history", []),
            versions=data.get("versions", {}),
        )
