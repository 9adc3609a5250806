"""Training augmentations (docs/design.md §7 +DA and +DR): composable, seeded, image and mask together.

Each transform maps ``(image, mask, rng) -> (image, mask)`` on uint8 images; ``mask`` (a
region-of-interest or label plane) follows geometric transforms and may be None.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

Pair = tuple[np.ndarray, "np.ndarray | None"]


class Transform(Protocol):
    def __call__(self, image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> Pair: ...


class RandomTransform:
    """A transform applied with probability ``p`` (a field of each subclass), else a no-op."""

    p: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must lie in [0, 1], got {self.p}")

    def __call__(self, image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        return self.apply(image, mask, rng)

    def apply(self, image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> Pair:
        """The transform itself (called with probability p)."""
        raise NotImplementedError


@dataclass(frozen=True)
class BrightnessContrast(RandomTransform):
    """Raise brightness (additive, up to ``brightness`` of full scale) and contrast (gain up to 1+``contrast``)."""

    brightness: float = 0.2
    contrast: float = 0.3
    p: float = 0.5

    def apply(self, image, mask, rng):
        gain = 1.0 + rng.uniform(0.0, self.contrast)
        shift = rng.uniform(0.0, self.brightness) * 255.0
        mean = image.mean()
        out = (image.astype(np.float32) - mean) * gain + mean + shift
        return np.clip(out, 0, 255).astype(np.uint8), mask


@dataclass(frozen=True)
class Flip(RandomTransform):
    """Mirror along ``axis`` (0 = vertical flip, 1 = horizontal flip) with probability ``p``."""

    axis: int
    p: float = 0.5

    def apply(self, image, mask, rng):
        flip = lambda a: None if a is None else np.ascontiguousarray(np.flip(a, axis=self.axis))  # noqa: E731
        return flip(image), flip(mask)


@dataclass(frozen=True)
class GaussianBlur(RandomTransform):
    """Blur with σ drawn uniformly from ``sigma`` (pixels)."""

    sigma: tuple[float, float] = (0.5, 2.0)
    p: float = 0.3

    def apply(self, image, mask, rng):
        return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(*self.sigma))), mask


@dataclass(frozen=True)
class GaussianNoise(RandomTransform):
    """Additive Gaussian noise with standard deviation up to ``std`` (of full scale)."""

    std: float = 0.03
    p: float = 0.3

    def apply(self, image, mask, rng):
        noise = rng.normal(0.0, rng.uniform(0.0, self.std) * 255.0, image.shape)
        return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8), mask


@dataclass(frozen=True)
class BlackMask(RandomTransform):
    """Black out one random rectangle up to ``max_fraction`` of each side."""

    max_fraction: float = 0.3
    p: float = 0.3

    def apply(self, image, mask, rng):
        h, w = image.shape[:2]
        rh = max(1, int(h * rng.uniform(0.05, self.max_fraction)))
        rw = max(1, int(w * rng.uniform(0.05, self.max_fraction)))
        y, x = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
        out = image.copy()
        out[y : y + rh, x : x + rw] = 0
        return out, mask


@dataclass(frozen=True)
class Rotate90(RandomTransform):
    """Rotate by a random multiple of 90° (domain randomization of the light direction)."""

    p: float = 0.5

    def apply(self, image, mask, rng):
        k = int(rng.integers(1, 4))
        rot = lambda a: None if a is None else np.ascontiguousarray(np.rot90(a, k))  # noqa: E731
        return rot(image), rot(mask)


@dataclass(frozen=True)
class Scale(RandomTransform):
    """Rescale by ``factor`` (e.g. 2× for the +DR scenario); masks use nearest neighbour."""

    factor: float = 2.0
    p: float = 0.5

    def apply(self, image, mask, rng):
        h, w = image.shape[:2]
        size = (max(1, round(w * self.factor)), max(1, round(h * self.factor)))
        out = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        new_mask = None if mask is None else cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        return out, new_mask


class Compose:
    """Apply transforms in order with one seeded generator (same seed → same augmented stream)."""

    def __init__(self, transforms: Sequence[Transform], seed: int = 0) -> None:
        self.transforms = list(transforms)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Restart the random stream from the seed."""
        self.rng = np.random.default_rng(self.seed)

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> Pair:
        if image.dtype != np.uint8:
            raise ValueError(f"augmentations expect uint8 images, got {image.dtype}")
        for transform in self.transforms:
            image, mask = transform(image, mask, self.rng)
        return image, mask


def default_augmentation(seed: int = 0) -> Compose:
    """The docs/design.md §7 +DA list: brightness/contrast up, flips on both axes, blur, noise, black masking."""
    return Compose(
        [BrightnessContrast(), Flip(axis=0), Flip(axis=1), GaussianBlur(), GaussianNoise(), BlackMask()], seed
    )


def domain_randomization(seed: int = 0) -> Compose:
    """The docs/design.md §7 +DR list: light rotated by 90° steps and 2× scaling."""
    return Compose([Rotate90(), Scale(2.0)], seed)
