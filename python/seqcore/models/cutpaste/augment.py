"""CutPaste's synthetic defects (Li et al., CVPR 2021) and the kitchen-board study's shapes.

Every function takes an (H, W) or (H, W, 3) uint8 image and a generator and returns the
defective copy and the (H, W) bool mask of the changed area (so tests can check sizes):
- ``cutpaste``: a rectangle of 2–15 % of the area, aspect ratio in [0.3, 3.3] (log-uniform),
  cut at one place and pasted at another, with a small brightness jitter;
- ``scar``: a thin rectangle (2–16 × 10–25 px) cut, rotated by ±45° and pasted;
- the study's shapes: ``study_scar`` (2–12 × 20–50 px at ±45°), ``black_dot`` (diameter
  6–10 px), ``white_dot`` (diameter 6–12 px with a black border), ``arc_scar`` (a 60° arc of a
  circle of radius 35–90 px).
``DEFECTS`` names them; ``synthetic_defect`` draws one of a named set.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

Defect = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _check(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"synthetic defects need an (H, W[, 3]) uint8 image, got {image.dtype} {image.shape}")
    return image


def _paste(image: np.ndarray, patch: np.ndarray, patch_mask: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``patch`` where ``patch_mask`` is set at a random position fully inside the image."""
    h, w = image.shape[:2]
    ph, pw = patch_mask.shape
    if ph > h or pw > w:
        raise ValueError(f"image {h}x{w} is too small for a {ph}x{pw} defect")
    y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    out = image.copy()
    region = out[y : y + ph, x : x + pw]
    region[patch_mask] = patch[patch_mask]
    mask = np.zeros((h, w), bool)
    mask[y : y + ph, x : x + pw] = patch_mask
    return out, mask


def _cut(image: np.ndarray, ph: int, pw: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    if ph > h or pw > w:
        raise ValueError(f"image {h}x{w} is too small to cut a {ph}x{pw} defect from (use a larger patch)")
    y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    return image[y : y + ph, x : x + pw].copy()


def _jitter(patch: np.ndarray, rng: np.random.Generator, amount: float = 0.1) -> np.ndarray:
    gain = 1.0 + rng.uniform(-amount, amount)
    return np.clip(patch.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def cutpaste(image: np.ndarray, rng: np.random.Generator, area: tuple[float, float] = (0.02, 0.15),
             aspect: tuple[float, float] = (0.3, 3.3)) -> tuple[np.ndarray, np.ndarray]:
    """Standard CutPaste: a jittered rectangle of the image pasted elsewhere."""
    image = _check(image)
    h, w = image.shape[:2]
    target = rng.uniform(*area) * h * w
    ratio = math.exp(rng.uniform(math.log(aspect[0]), math.log(aspect[1])))
    pw = int(np.clip(round(math.sqrt(target * ratio)), 1, w))
    ph = int(np.clip(round(math.sqrt(target / ratio)), 1, h))
    patch = _jitter(_cut(image, ph, pw, rng), rng)
    return _paste(image, patch, np.ones((ph, pw), bool), rng)


def _rotated_scar(image: np.ndarray, rng: np.random.Generator, width: tuple[int, int], length: tuple[int, int],
                  degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """A width×length strip of the image, rotated by ±``degrees`` and pasted elsewhere."""
    image = _check(image)
    sw, sl = int(rng.integers(width[0], width[1] + 1)), int(rng.integers(length[0], length[1] + 1))
    side = int(math.ceil(math.hypot(sw, sl))) | 1
    strip = np.zeros((side, side), np.uint8)
    c = side // 2
    strip[c - sl // 2 : c - sl // 2 + sl, c - sw // 2 : c - sw // 2 + sw] = 1
    patch = np.zeros((side, side) + image.shape[2:], np.uint8)
    patch[strip.astype(bool)] = _jitter(_cut(image, sl, sw, rng), rng).reshape(-1, *image.shape[2:])
    matrix = cv2.getRotationMatrix2D((c, c), float(rng.uniform(-degrees, degrees)), 1.0)
    patch = cv2.warpAffine(patch, matrix, (side, side), flags=cv2.INTER_NEAREST)
    strip = cv2.warpAffine(strip, matrix, (side, side), flags=cv2.INTER_NEAREST).astype(bool)
    return _paste(image, patch.reshape((side, side) + image.shape[2:]), strip, rng)


def scar(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste-scar: 2–16 × 10–25 px, rotated by ±45°."""
    return _rotated_scar(image, rng, (2, 16), (10, 25), 45.0)


def study_scar(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The kitchen-board study's scar: 2–12 × 20–50 px, rotated by ±45°."""
    return _rotated_scar(image, rng, (2, 12), (20, 50), 45.0)


def _dot(image: np.ndarray, rng: np.random.Generator, diameter: tuple[int, int], value: int, border: int
         ) -> tuple[np.ndarray, np.ndarray]:
    image = _check(image)
    d = int(rng.integers(diameter[0], diameter[1] + 1))
    r = d / 2.0
    yy, xx = np.mgrid[:d, :d] + 0.5
    dist = np.hypot(yy - r, xx - r)
    disc = dist <= r
    patch = np.full((d, d) + image.shape[2:], value, np.uint8)
    patch[disc & (dist > r - border)] = 0
    return _paste(image, patch, disc, rng)


def black_dot(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A black disc of diameter 6–10 px."""
    return _dot(image, rng, (6, 10), 0, 0)


def white_dot(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A white disc of diameter 6–12 px with a 1-px black border."""
    return _dot(image, rng, (6, 12), 255, 1)


def arc_scar(image: np.ndarray, rng: np.random.Generator, radius: tuple[int, int] = (35, 90),
             thickness: tuple[int, int] = (2, 4)) -> tuple[np.ndarray, np.ndarray]:
    """A 60° arc of a circle of radius 35–90 px, 2–4 px thick, darker or brighter than its surround."""
    image = _check(image)
    h, w = image.shape[:2]
    r, t = int(rng.integers(radius[0], radius[1] + 1)), int(rng.integers(thickness[0], thickness[1] + 1))
    start = float(rng.uniform(0, 360))
    middle = math.radians(start + 30.0)  # the arc's midpoint lies inside the image, so the mask is never empty
    y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
    centre = (round(x - r * math.cos(middle)), round(y - r * math.sin(middle)))
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, centre, (r, r), 0.0, start, start + 60.0, 1, thickness=t)
    mask = mask.astype(bool)
    out = image.copy()
    shift = float(rng.choice([-1, 1]) * rng.uniform(40, 90))
    out[mask] = np.clip(out[mask].astype(np.float32) + shift, 0, 255).astype(np.uint8)
    return out, mask


DEFECTS: dict[str, Defect] = {"cutpaste": cutpaste, "scar": scar, "study_scar": study_scar,
                              "black_dot": black_dot, "white_dot": white_dot, "arc_scar": arc_scar}
STUDY_DEFECTS = ("cutpaste", "scar", "study_scar", "black_dot", "white_dot", "arc_scar")


def synthetic_defect(image: np.ndarray, rng: np.random.Generator, names: Sequence[str] = STUDY_DEFECTS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One defect drawn uniformly from ``names``."""
    unknown = [n for n in names if n not in DEFECTS]
    if unknown or not names:
        raise ValueError(f"unknown defect(s) {unknown}; use some of {', '.join(DEFECTS)}")
    return DEFECTS[names[int(rng.integers(len(names)))]](image, rng)
