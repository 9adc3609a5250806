"""Prediction overlays: true positives green, false positives red, false negatives blue.

Impurity annotations are outlined in yellow so that false alarms on stains are visible,
and pixels outside the region of interest are dimmed.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from seqcore.data.sample import GroundTruth  # noqa: E402
from seqcore.metrics.prediction import binary_prediction  # noqa: E402

TP_COLOR, FP_COLOR, FN_COLOR, IMPURITY_COLOR = (0, 200, 0), (230, 0, 0), (30, 90, 255), (255, 220, 0)
ALPHA = 0.6


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB view of a grey (H, W), (H, W, 1) or colour (H, W, 3) image."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        lo, hi = float(image.min()), float(image.max())
        image = ((image - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {image.shape}")


def _class_pixels(gt: GroundTruth, names: Sequence[str]) -> np.ndarray:
    ids = [cid for cid, name in gt.class_names.items() if name in names]
    return np.isin(gt.class_mask, ids) if ids else np.zeros(gt.shape, bool)


def overlay(
    image: np.ndarray, score_map: np.ndarray, gt: GroundTruth, threshold: float,
    defect_classes: Sequence[str], impurity_classes: Sequence[str] = (), min_area: int = 0,
) -> np.ndarray:
    """RGB uint8 overlay of the prediction at ``threshold`` against the defect ground truth."""
    rgb = to_rgb(image)
    if rgb.shape[:2] != gt.shape or np.shape(score_map) != gt.shape:
        raise ValueError(f"image {rgb.shape[:2]}, map {np.shape(score_map)} and ground truth {gt.shape} differ")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    predicted = binary_prediction(score_map, threshold, gt.roi, min_area)
    positive = _class_pixels(gt, defect_classes)
    if gt.roi is not None:
        positive &= gt.roi
        out[~gt.roi] *= 0.35
    for mask, color in ((predicted & positive, TP_COLOR), (predicted & ~positive, FP_COLOR),
                        (~predicted & positive, FN_COLOR)):
        out[mask] = (1 - ALPHA) * out[mask] + ALPHA * np.array(color, np.float32)
    out = out.astype(np.uint8)
    impurity = _class_pixels(gt, impurity_classes)
    if impurity.any():
        contours, _ = cv2.findContours(impurity.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, IMPURITY_COLOR, max(1, max(gt.shape) // 400))
    return out


def save_overlay_figure(
    path: Path, name: str, image: np.ndarray, score_map: np.ndarray, gt: GroundTruth, threshold: float,
    defect_classes: Sequence[str], impurity_classes: Sequence[str] = (), min_area: int = 0,
) -> Path:
    """Three panels — input, anomaly map with the threshold contour, TP/FP/FN overlay — as one PNG."""
    score_map = np.asarray(score_map, np.float32)
    composed = overlay(image, score_map, gt, threshold, defect_classes, impurity_classes, min_area)
    height, width = gt.shape
    panel_w = 5.0
    fig, axes = plt.subplots(1, 3, figsize=(3 * panel_w, panel_w * height / width + 0.8))
    axes[0].imshow(to_rgb(image))
    axes[0].set_title("input", fontsize=9)
    shown = axes[1].imshow(score_map, cmap="inferno")
    axes[1].contour(score_map >= threshold, levels=[0.5], colors="cyan", linewidths=0.8)
    axes[1].set_title(f"anomaly map (max {score_map.max():.3g}), cyan: ≥ {threshold:.3g}", fontsize=9)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.02)
    axes[2].imshow(composed)
    axes[2].set_title("prediction vs ground truth", fontsize=9)
    legend = [Patch(color=np.array(c) / 255, label=t) for c, t in
              ((TP_COLOR, "true positive"), (FP_COLOR, "false positive"), (FN_COLOR, "false negative"))]
    if impurity_classes:
        legend.append(Patch(facecolor="none", edgecolor=np.array(IMPURITY_COLOR) / 255, label="impurity outline"))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[2].legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=len(legend), fontsize=9,
                   frameon=False)
    fig.suptitle(name, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
