"""Training loop of the supervised segmenters, after the seed work.

AdamW over a small learning-rate grid (each rate starts from the same weights; the best final
validation F1 wins, the first rate on ties); the rate is halved when validation F1 has not
improved for ``plateau_patience`` epochs; training stops after ``patience`` epochs without
improvement and keeps the best epoch's weights. Fine-tuning (a model that was already trained)
uses the grid scaled by ``finetune_factor``. Loss: binary cross-entropy on the logits, plus
soft Dice when ``dice`` (both over valid pixels only). Validation F1 is the pooled pixel F1 at
its best threshold (``seqcore.metrics.Evaluator``) over whole validation images.
Crops are no larger than the largest image (rounded up to a multiple of 32). Without any defect
pixel in the validation images there is nothing to select on: each rate trains one epoch.
Seeded: the same seed, data and thread count give the same weights bit for bit (CPU).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from seqcore.models.supervised.crop_dataset import CropDataset
from seqcore.models.supervised.crops import DEFAULT_CROP, DEFAULT_INTENSITY_THRESHOLD
from seqcore.models.supervised.sources import LabelledImage


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data settings of one ``fit`` (recorded in the model's history)."""

    learning_rates: tuple[float, ...] = (1e-3, 3e-4)
    epochs: int = 30
    crops_per_epoch: int = 256
    batch_size: int = 8
    crop_size: int = DEFAULT_CROP
    intensity_threshold: int | None = DEFAULT_INTENSITY_THRESHOLD  # None: uniform crop centres
    augment: bool = True
    weight_decay: float = 1e-4
    dice: bool = True
    patience: int = 6
    plateau_patience: int = 2
    finetune_factor: float = 0.1

    def __post_init__(self) -> None:
        if not self.learning_rates or min(self.learning_rates) <= 0:
            raise ValueError(f"learning_rates must be positive, got {self.learning_rates}")
        if min(self.epochs, self.crops_per_epoch, self.patience, self.plateau_patience) < 1 or self.batch_size < 2:
            raise ValueError("epochs, crops_per_epoch, patience, plateau_patience must be >= 1 and batch_size >= 2")
        if not 0 < self.finetune_factor <= 1:
            raise ValueError(f"finetune_factor must lie in (0, 1], got {self.finetune_factor}")


@dataclass
class TrainReport:
    """What one ``fit`` did: the chosen rate, per-rate best validation F1 and epochs, time."""

    learning_rate: float = 0.0
    val_f1: float = 0.0
    epochs: int = 0
    grid: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    finetune: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, dice: bool) -> torch.Tensor:
    """Mean BCE over valid pixels, plus (``dice``) 1 − soft Dice of the defect class over them."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = (bce * valid).sum() / valid.sum().clamp_min(1.0)
    if dice:
        prob = torch.sigmoid(logits) * valid
        loss = loss + 1.0 - (2.0 * (prob * target).sum() + 1.0) / (prob.sum() + (target * valid).sum() + 1.0)
    return loss


Scorer = Callable[[nn.Module, Sequence[LabelledImage]], float]


def _one_rate(net: nn.Module, loader: DataLoader, crops: CropDataset, val: Sequence[LabelledImage], lr: float,
              config: TrainConfig, val_f1: Scorer, progress: bool) -> tuple[dict[str, torch.Tensor], float, int]:
    """Train ``net`` at one starting rate; (best state, best validation F1, epochs run)."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=config.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5,
                                                         patience=config.plateau_patience)
    best, best_state, since_best, epoch = -1.0, copy.deepcopy(net.state_dict()), 0, 0
    bar = tqdm(range(config.epochs), desc=f"train lr {lr:g}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        crops.set_epoch(epoch)
        net.train()
        for inputs, target, valid in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = segmentation_loss(net(inputs), target, valid, config.dice)
            loss.backward()
            optimizer.step()
        if not any(im.target.any() for im in val):  # validation F1 undefined: nothing to stop on
            return copy.deepcopy(net.state_dict()), 0.0, epoch + 1
        f1 = val_f1(net, val)
        plateau.step(f1)
        bar.set_postfix(loss=f"{loss.item():.3f}", val_f1=f"{f1:.3f}")
        if f1 > best:
            best, best_state, since_best = f1, copy.deepcopy(net.state_dict()), 0
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    return best_state, best, epoch + 1


def train(net: nn.Module, images: Sequence[LabelledImage], val: Sequence[LabelledImage], config: TrainConfig,
          stacking: bool, seed: int, val_f1: Scorer, finetune: bool = False, progress: bool = True) -> TrainReport:
    """Run the learning-rate grid on ``net`` (left holding the winning weights); see the module docstring."""
    start = time.perf_counter()
    factor = config.finetune_factor if finetune else 1.0
    initial = copy.deepcopy(net.state_dict())
    report = TrainReport(finetune=finetune, config=asdict(config))
    best_state: dict[str, torch.Tensor] | None = None
    largest = max(max(im.gray.shape) for im in images)
    size = min(config.crop_size, -(-largest // 32) * 32)
    for lr in (r * factor for r in config.learning_rates):
        torch.manual_seed(seed)
        net.load_state_dict(initial)
        crops = CropDataset(images, config.crops_per_epoch, size, config.intensity_threshold,
                            stacking, config.augment, seed)
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(crops, batch_size=config.batch_size, shuffle=True, drop_last=True, generator=generator)
        state, f1, epochs = _one_rate(net, loader, crops, val, lr, config, val_f1, progress)
        report.grid.append({"learning_rate": lr, "val_f1": f1, "epochs": epochs})
        if best_state is None or f1 > report.val_f1:
            best_state, report.learning_rate, report.val_f1, report.epochs = state, lr, f1, epochs
    net.load_state_dict(best_state)
    report.seconds = time.perf_counter() - start
    return report


def pooled_f1(maps: Sequence[np.ndarray], images: Sequence[LabelledImage]) -> float:
    """Best pooled pixel F1 of probability maps over valid pixels (0 when no defect pixel exists)."""
    from seqcore.metrics import Evaluator, GroundTruth

    if not any(im.target.any() for im in images):
        return 0.0
    evaluator = Evaluator(["defect"], n_bins=1024, score_range=(0.0, 1.0))
    for amap, im in zip(maps, images, strict=True):
        evaluator.add(amap, GroundTruth(im.target, {1: "defect"}, roi=im.valid.astype(bool)))
    return float(evaluator.compute(evaluator.best_threshold()).f1 or 0.0)
