"""Network input: grayscale image -> exposure stack (x·2^α, α ∈ {0, 1, 2}, clipped) -> ImageNet-normalised tensor.

Exposure stacking (seed work) shows the encoder the same surface at three exposures, so dark
regions (where defects on metal often hide) get contrast without losing the bright ones. With
stacking off the grey image is repeated on the three channels.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from seqcore.features.backbones import IMAGENET_MEAN, IMAGENET_STD

EXPOSURES = (0, 1, 2)  # the α of the stacked channels


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 from a grey or RGB uint8 image."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    return image


def exposure_stack(gray: np.ndarray, stacking: bool = True) -> np.ndarray:
    """(3, H, W) float32 in [0, 1]: channel k is clip(x·2^α_k, 0, 1) with x = gray/255, or x three times."""
    x = np.asarray(gray, np.float32) / 255.0
    gains = [2.0**a for a in EXPOSURES] if stacking else [1.0] * len(EXPOSURES)
    return np.stack([np.clip(x * g, 0.0, 1.0) for g in gains])


def network_input(gray: np.ndarray, stacking: bool = True) -> torch.Tensor:
    """(3, H, W) float32 tensor: the exposure stack normalised with the ImageNet mean and std."""
    mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
    return torch.from_numpy((exposure_stack(gray, stacking) - mean) / std)
