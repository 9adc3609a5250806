"""Training augmentations of the supervised segmenters: rotation, noise, exposure, blur and flips.

Reuses the seeded transforms of ``seqcore.data.augment`` (flips, 90° turns, blur, noise) and adds
the two the seed work also uses: a small free rotation and an exposure change (gain 2^U(-1, 1)).
Geometric transforms move the target and valid mask with the image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from seqcore.data.augment import Flip, GaussianBlur, GaussianNoise, RandomTransform, Rotate90


@dataclass(frozen=True)
class Exposure(RandomTransform):
    """Multiply intensities by 2^u, u ~ U(-stops, stops), clipped to 8 bit."""

    stops: float = 1.0
    p: float = 0.5

    def apply(self, image, mask, rng):
        gain = 2.0 ** rng.uniform(-self.stops, self.stops)
        return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8), mask


@dataclass(frozen=True)
class Rotate(RandomTransform):
    """Rotate about the centre by an angle in ±``degrees`` (masks: nearest neighbour, zero outside)."""

    degrees: float = 20.0
    p: float = 0.5

    def apply(self, image, mask, rng):
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(rng.uniform(-self.degrees, self.degrees)), 1.0)
        out = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if mask is not None:
            mask = cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        return out, mask


# geometric first (they move the labels), then photometric
TRANSFORMS = (Rotate(), Rotate90(), Flip(axis=0), Flip(axis=1), Exposure(), GaussianBlur(), GaussianNoise())


def augment(gray: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random draw of ``TRANSFORMS`` on a grey crop and its (H, W, 2) target+valid label stack."""
    for transform in TRANSFORMS:
        gray, labels = transform(gray, labels, rng)
    return gray, labels
