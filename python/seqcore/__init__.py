"""seqcore: Sequential PatchCore for industrial visual surface inspection.

Public names are re-exported lazily so that ``import seqcore`` stays fast and does not
import torch, numba or FAISS until they are needed.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"  # the only place the version is written (pyproject.toml and CMake read it)

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Evaluator": "seqcore.metrics",
    "EvaluationResult": "seqcore.metrics",
    "GroundTruth": "seqcore.metrics",
    "write_report": "seqcore.report",
    "perlin2d": "seqcore.synth.perlin",
    "perlin3d": "seqcore.synth.perlin",
    "WaterStainParams": "seqcore.synth.water_stains",
    "water_stains": "seqcore.synth.water_stains",
    "SurfaceGenerator": "seqcore.synth.surface",
    "RingLight": "seqcore.synth.shading",
    "DatasetConfig": "seqcore.synth.dataset",
    "write_dual_dataset": "seqcore.synth.dataset",
    "SyntheticDataset": "seqcore.data",
    "SequentialCoreset": "seqcore.coreset",
    "ReferenceCoreset": "seqcore.coreset",
    "meld": "seqcore.coreset",
    "greedy_kcenter": "seqcore.coreset",
    "nearest_neighbors": "seqcore.coreset.knn",
    "save_model": "seqcore.io",
    "load_model": "seqcore.io",
    "ModelFileError": "seqcore.io",
    "SequentialPatchCore": "seqcore.models.patchcore",
    "Sequential": "seqcore.models.patchcore",
    "Greedy": "seqcore.models.patchcore",
    "Method": "seqcore.models",
    "Prediction": "seqcore.models",
    "FeatureExtractor": "seqcore.features",
    "FeatureConfig": "seqcore.features",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
