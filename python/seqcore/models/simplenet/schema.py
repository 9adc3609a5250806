"""The SimpleNet model-file metadata: one dataclass, written and read with full validation."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seqcore.features.config import FeatureConfig
from seqcore.models.schema import _feature_config

SIMPLENET_KIND = "SimpleNet"


def _error(message: str) -> Exception:
    from seqcore.io import ModelFileError

    return ModelFileError(f"invalid SimpleNet metadata: {message}")


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _error(f"{name} must be an integer >= 1, got {value!r}")


def _number(name: str, value: Any, minimum: float | None = None, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _error(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise _error(f"{name} must be >= {minimum}, got {value}")


@dataclass
class SimpleNetMetadata:
    """What besides the adaptor/discriminator weights decides a SimpleNet model's predictions."""

    features: FeatureConfig
    feature_dim: int
    hidden: int
    noise_std: float
    blur_sigma: float = 2.0
    threshold: float | None = None
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.features, FeatureConfig):
            raise _error(f"features must be a FeatureConfig, got {type(self.features).__name__}")
        _positive_int("feature_dim", self.feature_dim)
        _positive_int("hidden", self.hidden)
        _number("noise_std", self.noise_std, 0.0)
        if self.noise_std <= 0:
            raise _error(f"noise_std must be > 0, got {self.noise_std}")
        _number("blur_sigma", self.blur_sigma, 0.0)
        _number("threshold", self.threshold, optional=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise _error(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise _error("history must be a list of objects")
        if not isinstance(self.versions, dict) or not all(isinstance(v, str) for v in self.versions.values()):
            raise _error("versions must map names to version strings")

    def to_dict(self) -> dict[str, Any]:
        """The JSON metadata, ``"model"`` first."""
        return {
            "model": SIMPLENET_KIND, "features": self.features.to_dict(), "feature_dim": self.feature_dim,
            "hidden": self.hidden, "noise_std": self.noise_std, "blur_sigma": self.blur_sigma,
            "threshold": self.threshold, "seed": self.seed, "history": self.history, "versions": self.versions,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SimpleNetMetadata:
        """Read a file's metadata; ModelFileError on a foreign kind, missing or unknown keys, bad values."""
        if not isinstance(data, dict):
            raise _error(f"expected a JSON object, got {type(data).__name__}")
        if data.get("model") != SIMPLENET_KIND:
            raise _error(f"not a {SIMPLENET_KIND} model file (model={data.get('model')!r})")
        names = set(cls.__dataclass_fields__)
        missing = [k for k in ("features", "feature_dim", "hidden", "noise_std") if k not in data]
        unknown = sorted(set(data) - names - {"model"})
        if missing or unknown:
            raise _error(f"missing key(s) {missing}, unknown key(s) {unknown}")
        values = {k: v for k, v in data.items() if k in names}
        values["features"] = _feature_config(data["features"])
        return cls(**values)
