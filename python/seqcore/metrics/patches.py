"""Patch-level labels and metrics, as the kitchen-board study reports them.

The image is cut into a grid of ``size``×``size`` patches (edge patches partial). A patch counts
when at least one of its pixels lies inside the region of interest; its label is anomalous when
it holds a defect-class pixel inside the ROI (impurities are negatives), its prediction is
anomalous when the map's maximum inside the ROI reaches the threshold. Per image only the
patch maxima and labels are kept, so any threshold can be evaluated afterwards: accuracy,
precision, recall and the confusion matrix (tp, fp, fn, tn) over all patches of the split.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DEFAULT_PATCH = 64


def patch_grid(score_map: np.ndarray, defect: np.ndarray, roi: np.ndarray | None, size: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(patch maxima, patch labels) of the patches that touch the ROI (1-D arrays, row-major)."""
    if size < 1:
        raise ValueError(f"patch size must be >= 1, got {size}")
    h, w = score_map.shape
    gh, gw = math.ceil(h / size), math.ceil(w / size)
    inside = np.ones((h, w), bool) if roi is None else roi
    pad = ((0, gh * size - h), (0, gw * size - w))
    scores = np.pad(np.where(inside, score_map, -np.inf), pad, constant_values=-np.inf)
    labels = np.pad(defect & inside, pad)
    counted = np.pad(inside, pad)
    blocks = (gh, size, gw, size)
    maxima = scores.reshape(blocks).max(axis=(1, 3)).reshape(-1)
    positive = labels.reshape(blocks).any(axis=(1, 3)).reshape(-1)
    keep = counted.reshape(blocks).any(axis=(1, 3)).reshape(-1)
    return maxima[keep].astype(np.float64), positive[keep]


@dataclass
class PatchAccumulator:
    """Patch maxima and labels of every image added; ``compute`` gives the figures at a threshold."""

    size: int = DEFAULT_PATCH
    maxima: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)

    def add(self, score_map: np.ndarray, defect: np.ndarray, roi: np.ndarray | None) -> None:
        m, lab = patch_grid(score_map, defect, roi, self.size)
        self.maxima.append(m)
        self.labels.append(lab)

    def compute(self, threshold: float) -> dict:
        """Accuracy, precision, recall and the confusion matrix over all patches (None where undefined)."""
        maxima = np.concatenate(self.maxima) if self.maxima else np.zeros(0)
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0, bool)
        predicted = maxima >= threshold
        tp, fp = int((predicted & labels).sum()), int((predicted & ~labels).sum())
        fn, tn = int((~predicted & labels).sum()), int((~predicted & ~labels).sum())
        total = tp + fp + fn + tn
        return {"patch_size": self.size, "patches": total,
                "accuracy": (tp + tn) / total if total else None,
                "precision": tp / (tp + fp) if tp + fp else None,
                "recall": tp / (tp + fn) if tp + fn else None,
                "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}
