"""The numbers of one evaluation at a fixed threshold, with reasons for every undefined value."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COVERAGE_SWEEP_PERCENT: tuple[int, ...] = (0, 1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100)


@dataclass
class EvaluationResult:
    """Metrics of a split at ``threshold``; a value is None exactly when ``undefined`` says why."""

    threshold: float
    tau_cov: float
    min_area: int
    defect_classes: list[str]
    impurity_classes: list[str]
    precision: float | None
    recall: float | None
    f1: float | None
    mR_DW: float | None
    class_recall_px: dict[str, float | None]  # R_PX(c)
    class_recall_dw: dict[str, float | None]  # R_DW(c) at tau_cov
    instances: dict[str, int]  # annotated instances per class (inside the ROI)
    detected: dict[str, int]  # instances detected at tau_cov
    coverage_sweep: dict[str, list[float | None]]  # class -> R_DW at COVERAGE_SWEEP_PERCENT
    image_auroc: float | None
    pixel_auroc: float | None
    aupro: float | None
    counts: dict[str, int]  # images, anomalous_images, positive/negative pixels, tp, fp, fn
    threshold_resolution: float  # histogram bin width: pixel counts are exact at bin edges
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)  # metric -> reason it is None
    notes: list[str] = field(default_factory=list)
    patch: dict[str, Any] = field(default_factory=dict)  # patch-level figures (metrics/patches.py)

    def to_dict(self, with_curves: bool = True) -> dict[str, Any]:
        """JSON-ready dict; undefined values are None and explained under "undefined"."""
        out: dict[str, Any] = {
            "threshold": self.threshold,
            "tau_cov": self.tau_cov,
            "min_area": self.min_area,
            "classes": {"defects": list(self.defect_classes), "impurities": list(self.impurity_classes)},
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "mR_DW": self.mR_DW,
            "R_PX": dict(self.class_recall_px),
            "R_DW": dict(self.class_recall_dw),
            "instances": dict(self.instances),
            "detected": dict(self.detected),
            "coverage_sweep": {
                "tau_cov_percent": list(COVERAGE_SWEEP_PERCENT),
                "R_DW": {c: list(v) for c, v in self.coverage_sweep.items()},
            },
            "image_auroc": self.image_auroc,
            "pixel_auroc": self.pixel_auroc,
            "aupro": self.aupro,
            "counts": dict(self.counts),
            "threshold_resolution": self.threshold_resolution,
            "undefined": dict(self.undefined),
            "notes": list(self.notes),
            "patch": dict(self.patch),
        }
        if with_curves:
            out["curves"] = {k: dict(v) for k, v in self.curves.items()}
        return out
