"""Probability of detection against defect size (NDT-style POD curve) for a good-images-only threshold.

Synthetic defects of given sizes are pasted into good images — ``dot`` (dark disk of that diameter),
``scratch`` (thin dark line of that length), ``dent`` (smooth dark bump of that diameter) and ``scar``
(bright thin line of that length) — and a pasted defect counts as detected when the anomaly map reaches
the threshold somewhere inside its (dilated by 2 px) footprint.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

KINDS = ("dot", "scratch", "dent", "scar")


def paste_defect(image: np.ndarray, kind: str, size: int, rng: np.random.Generator,
                 contrast: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """(image with one defect of ``kind`` and ``size`` px pasted at a random place, its footprint)."""
    if kind not in KINDS:
        raise ValueError(f"unknown defect kind {kind!r}: use one of {', '.join(KINDS)}")
    if size < 1:
        raise ValueError(f"defect size must be >= 1 px, got {size}")
    h, w = image.shape[:2]
    if min(h, w) <= 2 * size + 4:
        raise ValueError(f"image {h}×{w} is too small for a defect of {size} px")
    cy, cx = int(rng.integers(size + 2, h - size - 2)), int(rng.integers(size + 2, w - size - 2))
    shape = np.zeros((h, w), np.float32)
    if kind in ("dot", "dent"):
        cv2.circle(shape, (cx, cy), max(1, size // 2), 1.0, -1)
        if kind == "dent":
            shape = cv2.GaussianBlur(shape, (0, 0), max(1.0, size / 6))  # soft rim; tiny dents are faint
    else:
        angle = rng.uniform(0, np.pi)
        dx, dy = np.cos(angle) * size / 2, np.sin(angle) * size / 2
        cv2.line(shape, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 1.0, 1)
    sign = 1.0 if kind == "scar" else -1.0
    out = image.astype(np.float32) + sign * contrast * (shape[..., None] if image.ndim == 3 else shape)
    footprint = cv2.dilate((shape > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return np.clip(out, 0, 255).astype(image.dtype), footprint


def pod_curve(score_map: Callable[[np.ndarray], np.ndarray], good_images: Sequence[np.ndarray], kind: str,
              sizes: Sequence[int], threshold: float, trials: int = 20, seed: int = 0) -> dict[str, list]:
    """POD per size: share of ``trials`` pasted defects whose footprint reaches ``threshold`` in the map."""
    if not good_images:
        raise ValueError("pod_curve needs good images")
    rng = np.random.default_rng(seed)
    pod = []
    for size in sizes:
        hits = 0
        for trial in range(trials):
            pasted, footprint = paste_defect(good_images[trial % len(good_images)], kind, int(size), rng)
            hits += bool(np.asarray(score_map(pasted))[footprint].max() >= threshold)
        pod.append(hits / trials)
    return {"kind": kind, "size_px": [int(s) for s in sizes], "pod": pod, "trials": trials, "threshold": threshold}
