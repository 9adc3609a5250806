"""Probability of detection against defect size (NDT-style POD curve) for a good-images-only threshold.

Synthetic defects of given sizes are pasted into good images — ``dot`` (dark disk of that diameter),
``scratch`` (thin dark line of that length), ``dent`` (smooth dark bump of that diameter) and ``scar``
(bright thin line of that length) — and a pasted defect counts as detected when the anomaly map reaches
the threshold somewhere inside its (dilated by 2 px) footprint. Each size's POD comes with a two-sided
Clopper-Pearson band and its one-sided lower bound; ``a90`` is the smallest size whose POD reaches 90 %
and ``a90/95`` the smallest whose 95 % lower bound does (NDT's a90/95), both None when not reached.
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


def clopper_pearson(hits: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided binomial interval of a detection probability."""
    from scipy.stats import beta

    alpha = 1.0 - confidence
    low = 0.0 if hits == 0 else float(beta.ppf(alpha / 2, hits, trials - hits + 1))
    high = 1.0 if hits == trials else float(beta.ppf(1 - alpha / 2, hits + 1, trials - hits))
    return low, high


def lower_bound(hits: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided exact lower confidence bound of a detection probability (the '95' of a90/95)."""
    from scipy.stats import beta

    return 0.0 if hits == 0 else float(beta.ppf(1.0 - confidence, hits, trials - hits + 1))


def size_reaching(sizes: Sequence[int], values: Sequence[float], level: float = 0.9) -> int | None:
    """Smallest size from which on every larger size's value is >= ``level`` (None if the largest is below)."""
    size = None
    for s, v in sorted(zip(sizes, values, strict=True), reverse=True):
        if v < level:
            break
        size = int(s)
    return size


def pod_curve(score_map: Callable[[np.ndarray], np.ndarray], good_images: Sequence[np.ndarray], kind: str,
              sizes: Sequence[int], threshold: float, trials: int = 20, seed: int = 0,
              clean_maps: Sequence[np.ndarray] | None = None, rois: Sequence[np.ndarray | None] | None = None,
              contrast: float = 60.0) -> dict:
    """POD per size: share of ``trials`` pasted defects whose footprint reaches ``threshold`` in the map,
    with its confidence band, a90 and a90/95, and each trial's footprint maximum (``peaks``: POD at any other
    threshold without scoring again). With ``clean_maps`` (each good image's own map), also the
    share of footprints the unchanged image already reaches (``baseline``: hits a defect did not cause).
    With ``rois``, ``score_map`` is called as ``score_map(image, roi)`` with the good image's region of interest."""
    if not good_images:
        raise ValueError("pod_curve needs good images")
    if rois is not None and len(rois) != len(good_images):
        raise ValueError(f"{len(rois)} rois for {len(good_images)} good images")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    rng = np.random.default_rng(seed)
    hits, baseline, peaks = [], [], []
    for size in sizes:
        hit = base = 0
        peaks.append([])
        for trial in range(trials):
            index = trial % len(good_images)
            pasted, footprint = paste_defect(good_images[index], kind, int(size), rng, contrast)
            amap = score_map(pasted) if rois is None else score_map(pasted, rois[index])
            peak = float(np.asarray(amap)[footprint].max())
            peaks[-1].append(peak)
            hit += bool(peak >= threshold)
            if clean_maps is not None:
                base += bool(np.asarray(clean_maps[index])[footprint].max() >= threshold)
        hits.append(hit)
        baseline.append(base / trials)
    pod = [h / trials for h in hits]
    band = [clopper_pearson(h, trials) for h in hits]
    lower = [lower_bound(h, trials) for h in hits]
    out = {"kind": kind, "size_px": [int(s) for s in sizes], "pod": pod, "hits": hits, "trials": trials,
           "threshold": threshold, "ci95_low": [b[0] for b in band], "ci95_high": [b[1] for b in band],
           "lower95": lower, "a90_px": size_reaching(sizes, pod), "a90_95_px": size_reaching(sizes, lower),
           "peaks": peaks}
    if clean_maps is not None:
        out["baseline"] = baseline
    return out
