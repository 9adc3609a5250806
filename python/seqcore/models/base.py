"""The Method protocol every anomaly-detection method implements, and the registry the CLI uses.

A method fits on nominal images, predicts an anomaly map and an image score per image, and
writes/reads one model file whose metadata names the method (``"model"`` key).
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class Prediction:
    """Anomaly map at input resolution, image score and the thresholded verdict."""

    anomaly_map: np.ndarray  # (H, W) float32
    score: float
    anomalous: bool | None  # None while the model has no threshold


class Report(Protocol):
    """What one call of ``fit`` did, as JSON-ready data (stored in the model's history)."""

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class Method(Protocol):
    """fit / predict / save / load / metadata; ``threshold`` turns scores into verdicts."""

    threshold: float | None

    def fit(self, data: Iterable, *args: Any, **kwargs: Any) -> Report: ...

    def predict(self, image: Any, roi: np.ndarray | None = None) -> Prediction: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path, *args: Any, **kwargs: Any) -> Method: ...

    def metadata(self) -> dict[str, Any]: ...


# name -> "module:Class"; one line per method, imported only when asked for
METHODS: dict[str, str] = {
    "patchcore": "seqcore.models.patchcore:SequentialPatchCore",
    "supervised": "seqcore.models.supervised:SupervisedSegmenter",  # --method unet|fcn|deeplab
    "simplenet": "seqcore.models.simplenet:SimpleNet",
    "cutpaste": "seqcore.models.cutpaste:CutPaste",
}


def method_class(name: str) -> type:
    """The class registered under ``name`` (e.g. ``--method patchcore``); ValueError if unknown."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; registered: {', '.join(sorted(METHODS))}")
    module, _, attr = METHODS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def load_method(path: str | Path, **options: Any) -> Method:
    """Load any registered method's model file, dispatching on the ``"model"`` metadata key."""
    from seqcore.io import ModelFileError, load_model

    kind = load_model(path, coreset=False)[1].get("model")
    for name in METHODS:
        cls = method_class(name)
        if getattr(cls, "KIND", None) == kind:
            return cls.load(path, **options)
    raise ModelFileError(f"{path}: no registered method writes model files of kind {kind!r}")
