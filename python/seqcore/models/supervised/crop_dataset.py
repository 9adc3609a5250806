"""A torch Dataset of augmented training crops: reproducible from (seed, epoch, index) alone.

Each item draws its own generator from ``SeedSequence([seed, epoch, index])``, so the stream does
not depend on DataLoader workers or order; the epoch's crops are fixed by ``set_epoch``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from seqcore.models.supervised.augment import augment as augment_crop
from seqcore.models.supervised.crops import DEFAULT_CROP, DEFAULT_INTENSITY_THRESHOLD, crop, crop_centre
from seqcore.models.supervised.inputs import network_input
from seqcore.models.supervised.sources import LabelledImage


class CropDataset(Dataset):
    """``crops`` crops per epoch, cycling over the images -> (input (3, S, S), target (1, S, S), valid (1, S, S))."""

    def __init__(self, images: Sequence[LabelledImage], crops: int = 256, size: int = DEFAULT_CROP,
                 intensity_threshold: int | None = DEFAULT_INTENSITY_THRESHOLD, stacking: bool = True,
                 augment: bool = True, seed: int = 0) -> None:
        if crops < 1 or size < 32 or size % 32:
            raise ValueError(f"need crops >= 1 and a crop size that is a multiple of 32, got {crops}, {size}")
        if not images:
            raise ValueError("no training images")
        self.images = list(images)
        self.crops = crops
        self.size = size
        self.intensity_threshold = intensity_threshold
        self.stacking = stacking
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.crops

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))
        item = self.images[index % len(self.images)]
        centre = crop_centre(item.gray, rng, self.intensity_threshold)
        gray, target, valid = crop([item.gray, item.target, item.valid], centre, self.size)
        if self.augment:
            gray, labels = augment_crop(gray, np.stack([target, valid], axis=-1), rng)
            target, valid = labels[..., 0], labels[..., 1]
        return (network_input(gray, self.stacking), torch.from_numpy(target[None].astype(np.float32)),
                torch.from_numpy(valid[None].astype(np.float32)))
