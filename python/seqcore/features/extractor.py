"""Patch features (docs/design.md §3): two backbone levels, average-pooled, upsampled and concatenated.

Every image is first mirrored by ``border_pad`` pixels on each side (border patches then see
surface instead of the convolutions' zero padding; the pad's features are cropped away), then
reflect-padded to a multiple of the coarsest stride; the feature grid covers the image at the
finest stride (8 for the default levels). Large images are processed
as overlapping tiles: each tile contributes only the patches of its central (owned) block,
the overlap supplies context, so every cell is owned exactly once; near a seam the features
differ slightly from an untiled pass (measured ≤ 0.75 % of the largest value at 1024/128).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from seqcore.features.backbones import IMAGENET_MEAN, IMAGENET_STD, backbone_normalization, create_backbone
from seqcore.features.config import FeatureConfig
from seqcore.features.fusion import fold_batch_norms
from seqcore.features.memory import release_freed_memory


def _mirror_pad(batch: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflect padding of (B, C, H, W), or edge replication where the image is too small to reflect."""
    h, w = batch.shape[2:]
    mode = "reflect" if max(left, right) < w and max(top, bottom) < h else "replicate"
    return F.pad(batch, (left, right, top, bottom), mode=mode)


@dataclass
class FeatureTile:
    """Features of one block of the patch grid: rows [y0, y0+h), columns [x0, x0+w)."""

    y0: int
    x0: int
    features: np.ndarray  # (h, w, d) float32

    @property
    def shape(self) -> tuple[int, int]:
        return self.features.shape[0], self.features.shape[1]


def as_float_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] from uint8/uint16/float images, gray or colour; clear errors."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, 3), got {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"image is empty: shape {array.shape}")
    if array.dtype == np.uint8:
        out = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        out = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        out = array.astype(np.float32)
        if not np.isfinite(out).all():
            raise ValueError("image contains NaN or inf")
        if out.min() < 0.0 or out.max() > 1.0:
            raise ValueError("float images must lie in [0, 1]")
    else:
        raise ValueError(f"unsupported image dtype {array.dtype}; use uint8, uint16 or float")
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return np.ascontiguousarray(out)


def resized_shape(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """Shape after scaling so the short side equals ``short_side`` (unchanged when None)."""
    if short_side is None:
        return height, width
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W[, C]) array to ``shape`` (area when shrinking, linear when enlarging)."""
    if image.shape[:2] == tuple(shape):
        return image
    shrink = shape[0] * shape[1] < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (shape[1], shape[0]), interpolation=interp)


def cell_means(plane: np.ndarray, stride: int) -> np.ndarray:
    """Mean of ``plane`` (H, W) over each stride×stride cell of the patch grid (edge cells partial)."""
    h, w = plane.shape
    gh, gw = math.ceil(h / stride), math.ceil(w / stride)
    total = np.zeros((gh * stride, gw * stride), np.float64)
    count = np.zeros_like(total)
    total[:h, :w] = plane
    count[:h, :w] = 1.0
    sums = total.reshape(gh, stride, gw, stride).sum(axis=(1, 3))
    counts = count.reshape(gh, stride, gw, stride).sum(axis=(1, 3))
    return (sums / counts).astype(np.float32)


def pooled_patches(levels: Sequence[torch.Tensor], kernel: int, count_pad: bool) -> torch.Tensor:
    """Backbone levels (B, c_i, h_i, w_i) → patch features (B, Σc_i, h_0, w_0): each level average-pooled
    (kernel k, stride 1, padding k//2; ``count_pad`` counts the zero padding as torch's AvgPool2d),
    upsampled bilinearly to the finest level and concatenated."""
    if kernel < 1:
        raise ValueError(f"pool kernel must be >= 1, got {kernel}")
    if kernel > 1:
        levels = [
            F.avg_pool2d(level, kernel, stride=1, padding=kernel // 2, count_include_pad=count_pad)[
                :, :, : level.shape[2], : level.shape[3]
            ]
            for level in levels
        ]
    size = levels[0].shape[2:]
    levels = [levels[0]] + [F.interpolate(lv, size=size, mode="bilinear", align_corners=False) for lv in levels[1:]]
    return torch.cat(levels, dim=1)


class FeatureExtractor:
    """Frozen backbone → one d-dimensional vector per stride-8 patch (see module docstring)."""

    def __init__(
        self,
        config: FeatureConfig | None = None,
        device: str = "cpu",
        bf16: bool = False,
        projection: np.ndarray | None = None,
    ) -> None:
        # oneDNN caches kernels per input shape (default 1024): with images of many sizes the
        # cache alone grows RSS by ~100 MB; a smaller cache keeps memory flat at equal speed.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")
        self.config = config or FeatureConfig()
        self.device = torch.device(device)
        self.bf16 = bf16
        backbone = create_backbone(self.config.backbone, self.config.out_indices, self.config.pretrained)
        self.backbone, _ = fold_batch_norms(backbone)  # same features (1e-4); BatchNorm was ~17 % of CPU time
        self.backbone.to(self.device)
        # oneDNN's CPU convolutions run about 25 % faster on NHWC tensors than on NCHW ones
        self._memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.backbone.to(memory_format=self._memory_format)
        if self.config.normalization == "imagenet":
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            mean, std = backbone_normalization(self.backbone)
        self._mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)
        reductions = self.backbone.feature_info.reduction()
        self.stride = int(reductions[0])
        if self.config.border_pad % self.stride:
            raise ValueError(
                f"border_pad must be a multiple of the feature stride {self.stride}, got {self.config.border_pad}"
            )
        self._align = int(max(reductions))
        self.raw_dim = int(sum(self.backbone.feature_info.channels()))
        self.projection = self._make_projection(projection)
        self.dim = self.raw_dim if self.projection is None else int(self.projection.shape[1])
        self._projection_t = None if self.projection is None else torch.from_numpy(self.projection).to(self.device)

    def _make_projection(self, given: np.ndarray | None) -> np.ndarray | None:
        """The stored projection matrix, or a fresh seeded Gaussian one when configured."""
        target = self.config.projection_dim
        if given is not None:
            given = np.ascontiguousarray(given, dtype=np.float32)
            if given.shape != (self.raw_dim, target):
                raise ValueError(
                    f"projection matrix has shape {given.shape}, expected ({self.raw_dim}, {target})"
                )
            return given
        if target is None:
            return None
        rng = np.random.default_rng(self.config.projection_seed)
        return (rng.standard_normal((self.raw_dim, target)) / math.sqrt(target)).astype(np.float32)

    # -- geometry ---------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """(H', W', 3) float32 image as the backbone sees it: converted and optionally resized."""
        rgb = as_float_image(image)
        if self.config.resize_shape is not None:
            return resize_image(rgb, self.config.resize_shape)
        return resize_image(rgb, resized_shape(rgb.shape[0], rgb.shape[1], self.config.resize_short_side))

    def grid_shape(self, height: int, width: int) -> tuple[int, int]:
        """Patch-grid shape for a prepared image of this size."""
        return math.ceil(height / self.stride), math.ceil(width / self.stride)

    # -- extraction -------------------------------------------------------------------------
    @torch.no_grad()
    def backbone_levels(self, images: np.ndarray) -> list[torch.Tensor]:
        """Raw float32 backbone levels (B, c_i, h_i, w_i) of prepared images (B, H, W, 3), before pooling.

        They include the mirrored border and the alignment padding (bottom/right); ``forward_batch``
        pools, fuses and crops them. Exposed so that experiments can reuse one backbone pass.
        """
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2)
        border = self.config.border_pad  # mirrored context instead of the convolutions' zero padding
        if border:
            batch = _mirror_pad(batch, border, border, border, border)
        ph, pw = batch.shape[2:]
        pad_h, pad_w = (-ph) % self._align, (-pw) % self._align
        if pad_h or pad_w:
            batch = _mirror_pad(batch, 0, pad_w, 0, pad_h)
        batch = ((batch - self._mean) / self._std).contiguous(memory_format=self._memory_format)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            levels = self.backbone(batch)
        return [level.float() for level in levels]

    @torch.no_grad()
    def forward_batch(self, images: np.ndarray) -> torch.Tensor:
        """Features (B, d, gh, gw) for a batch (B, H, W, 3) of prepared float images."""
        return self.forward_kernels(images, (self.config.pool_kernel,))[0]

    @torch.no_grad()
    def forward_kernels(self, images: np.ndarray, kernels: Sequence[int]) -> list[torch.Tensor]:
        """Features (B, d, gh, gw) per pooling kernel, all from one backbone pass (multi-scale banks)."""
        h, w = images.shape[1:3]
        levels = self.backbone_levels(images)
        gh, gw = self.grid_shape(h, w)
        cell = self.config.border_pad // self.stride
        out = []
        for k in kernels:
            features = pooled_patches(levels, k, self.config.pool_count_pad)[:, :, cell : cell + gh, cell : cell + gw]
            if self._projection_t is not None:
                features = torch.einsum("bchw,cp->bphw", features, self._projection_t)
            out.append(features)
        return out

    def _tile_boxes(self, height: int, width: int) -> list[tuple[int, int, int, int, int, int, int, int]]:
        """Per tile: the tile box (y0, y1, x0, x1) and its owned core box in pixels."""
        tile, overlap = self.config.tile_size, self.config.tile_overlap
        if tile is None or (height <= tile and width <= tile):
            return [(0, height, 0, width, 0, height, 0, width)]
        core = tile - 2 * overlap
        boxes = []
        for cy0 in range(0, height, core):
            for cx0 in range(0, width, core):
                cy1, cx1 = min(cy0 + core, height), min(cx0 + core, width)
                boxes.append(
                    (max(0, cy0 - overlap), min(height, cy1 + overlap), max(0, cx0 - overlap),
                     min(width, cx1 + overlap), cy0, cy1, cx0, cx1)
                )
        return boxes

    def iter_tiles(self, prepared: np.ndarray) -> Iterator[FeatureTile]:
        """Feature blocks covering the patch grid of one prepared image (one block when untiled)."""
        for tiles in self.iter_tiles_kernels(prepared, (self.config.pool_kernel,)):
            yield tiles[0]

    def iter_tiles_kernels(self, prepared: np.ndarray, kernels: Sequence[int]) -> Iterator[list[FeatureTile]]:
        """Like ``iter_tiles``, one FeatureTile per pooling kernel per block, from one backbone pass."""
        height, width = prepared.shape[:2]
        boxes = self._tile_boxes(height, width)
        for y0, y1, x0, x1, cy0, cy1, cx0, cx1 in boxes:
            s = self.stride
            gy0, gx0 = (cy0 - y0) // s, (cx0 - x0) // s
            gh, gw = math.ceil((cy1 - cy0) / s), math.ceil((cx1 - cx0) / s)
            tiles = []
            for feats in self.forward_kernels(prepared[None, y0:y1, x0:x1], kernels):
                block = feats[0].permute(1, 2, 0)[gy0 : gy0 + gh, gx0 : gx0 + gw]
                tiles.append(FeatureTile(cy0 // s, cx0 // s, np.ascontiguousarray(block.cpu().numpy(), np.float32)))
            yield tiles
            if len(boxes) > 1:
                del feats, block
                release_freed_memory()  # tiles of several shapes would otherwise grow the heap tile by tile

    def extract(self, image: np.ndarray, kernels: Sequence[int] | None = None) -> np.ndarray | list[np.ndarray]:
        """Patch features (gh, gw, d) float32 of one raw image (stitched from tiles if needed);
        with ``kernels``, a list of them, one per pooling kernel."""
        prepared = self.prepare(image)
        gh, gw = self.grid_shape(*prepared.shape[:2])
        chosen = (self.config.pool_kernel,) if kernels is None else tuple(kernels)
        out = [np.empty((gh, gw, self.dim), np.float32) for _ in chosen]
        for tiles in self.iter_tiles_kernels(prepared, chosen):
            for grid, tile in zip(out, tiles, strict=True):
                h, w = tile.shape
                grid[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w] = tile.features
        return out[0] if kernels is None else out

    def extract_many(self, images: Sequence[np.ndarray], batch_size: int = 8) -> list[np.ndarray]:
        """Features of several raw images; equal-sized untiled neighbours share a forward pass."""
        prepared = [self.prepare(image) for image in images]
        out: list[np.ndarray] = []
        start = 0
        while start < len(prepared):
            shape = prepared[start].shape
            stop = start + 1
            tiled = len(self._tile_boxes(*shape[:2])) > 1
            while not tiled and stop < len(prepared) and stop - start < batch_size and prepared[stop].shape == shape:
                stop += 1
            if tiled:
                out.append(self.extract(images[start]))
            else:
                feats = self.forward_batch(np.stack(prepared[start:stop])).permute(0, 2, 3, 1)
                out.extend(np.ascontiguousarray(f.cpu().numpy(), dtype=np.float32) for f in feats)
            start = stop
        return out
