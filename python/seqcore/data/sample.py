"""What every dataset yields: :class:`Sample` (an image, its name and label) and its
:class:`GroundTruth` (a class mask with instance ids, class names and a region of interest)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class GroundTruth:
    """Annotation of one image; class id 0 is background, pixels outside ``roi`` are ignored.

    Instances are the given ``instance_mask`` ids (per class), else the 8-connected components
    of each class mask. Shapes and dtypes are checked on construction.
    """

    class_mask: np.ndarray  # (H, W) int, 0 = background, >0 = class id
    class_names: dict[int, str]  # class id -> class name
    instance_mask: np.ndarray | None = None  # (H, W) int instance ids, 0 = none
    roi: np.ndarray | None = None  # (H, W) bool region of interest

    def __post_init__(self) -> None:
        self.class_mask = _integer_mask(self.class_mask, "class_mask")
        if self.class_mask.ndim != 2:
            raise ValueError(f"class_mask must be 2-D (H, W), got shape {self.class_mask.shape}")
        self.class_names = {int(k): str(v) for k, v in dict(self.class_names).items()}
        if any(k <= 0 for k in self.class_names):
            raise ValueError(f"class ids must be > 0 (0 is background), got {sorted(self.class_names)}")
        if len(set(self.class_names.values())) != len(self.class_names):
            raise ValueError(f"class names must be unique, got {self.class_names}")
        if self.instance_mask is not None:
            self.instance_mask = _integer_mask(self.instance_mask, "instance_mask")
            self._check_shape(self.instance_mask, "instance_mask")
        if self.roi is not None:
            roi = np.asarray(self.roi)
            if roi.dtype != bool:
                if roi.dtype.kind not in "iu" or not np.isin(roi, (0, 1)).all():
                    raise ValueError(f"roi must be a bool (or 0/1) mask, got dtype {roi.dtype}")
                roi = roi.astype(bool)
            self._check_shape(roi, "roi")
            self.roi = roi

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.class_mask.shape)  # type: ignore[return-value]

    def _check_shape(self, array: np.ndarray, what: str) -> None:
        if array.shape != self.class_mask.shape:
            raise ValueError(f"{what} shape {array.shape} differs from class_mask shape {self.class_mask.shape}")

    def class_id(self, name: str) -> int:
        """The id of class ``name`` in this annotation (ValueError if it is not declared)."""
        for cid, cname in self.class_names.items():
            if cname == name:
                return cid
        raise ValueError(f"class {name!r} not in this annotation's classes {sorted(self.class_names.values())}")

    @classmethod
    def empty(cls, shape: tuple[int, int], roi: np.ndarray | None = None) -> GroundTruth:
        """Annotation of a nominal image: no defect and no impurity pixels."""
        return cls(np.zeros(shape, np.uint8), {}, roi=roi)

    @classmethod
    def from_binary_mask(cls, mask: np.ndarray, class_name: str, roi: np.ndarray | None = None) -> GroundTruth:
        """One-class annotation (id 1) from a binary mask, read by :func:`binary_mask`."""
        return cls(binary_mask(mask).astype(np.uint8), {1: class_name}, roi=roi)

    @classmethod
    def from_layers(
        cls,
        shape: tuple[int, int],
        layers: Sequence[tuple[str, np.ndarray]],
        class_ids: Mapping[str, int] | None = None,
        roi: np.ndarray | None = None,
    ) -> GroundTruth:
        """Paint one instance per ``(class name, bool mask)`` layer in order; later layers win overlaps.

        Each layer becomes its own instance id (1, 2, ...). ``class_ids`` fixes name -> id
        (default: ids 1, 2, ... in order of first appearance).
        """
        ids = dict(class_ids) if class_ids is not None else {}
        class_mask = np.zeros(shape, np.int32)
        instance_mask = np.zeros(shape, np.int32)
        for number, (name, layer) in enumerate(layers, start=1):
            layer = np.asarray(layer, dtype=bool)
            if layer.shape != tuple(shape):
                raise ValueError(f"layer {number} ({name!r}) has shape {layer.shape}, expected {tuple(shape)}")
            if name not in ids:
                if class_ids is not None:
                    raise ValueError(f"layer {number}: class {name!r} not in class_ids {sorted(ids)}")
                ids[name] = len(ids) + 1
            class_mask[layer] = ids[name]
            instance_mask[layer] = number
        return cls(class_mask, {cid: name for name, cid in ids.items()}, instance_mask, roi)


def binary_mask(mask: np.ndarray) -> np.ndarray:
    """The defect pixels of a binary mask: bool as is, uint8 > 127 (0/1 uint8 > 0), other > 0.

    The uint8 rule matches 8-bit mask PNGs (MVTec AD, magnetic tile: defect where > 127);
    a uint8 array holding only 0 and 1 is read as labels, not as near-black pixels.
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (3, 4):
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"binary mask must be 2-D (H, W), got shape {mask.shape}")
    if mask.dtype == bool:
        return mask
    if mask.dtype == np.uint8:
        return mask > (0 if mask.max(initial=0) <= 1 else 127)
    if mask.dtype.kind in "iuf":
        if mask.dtype.kind == "f" and not np.isfinite(mask).all():
            raise ValueError("binary mask contains NaN or inf")
        return mask > 0
    raise ValueError(f"binary mask has unsupported dtype {mask.dtype}")


GroundTruthLoader = Callable[[], "GroundTruth | None"]


class Sample:
    """One decoded image; ``gt`` (None when unannotated) may be given as a loader, called on first access."""

    def __init__(self, name: str, image: np.ndarray, label: str,
                 gt: GroundTruth | GroundTruthLoader | None = None) -> None:
        self.name = name  # unique, path-like id without suffix, e.g. "MT_Free/Imgs/exp1_num_1"
        self.image = image  # (H, W) or (H, W, 3) uint8
        self.label = label  # image-level class name, e.g. "free", "good", "blowhole"
        self._gt = gt

    @property
    def gt(self) -> GroundTruth | None:
        if callable(self._gt):
            self._gt = self._gt()
        return self._gt

    def __repr__(self) -> str:
        return f"Sample(name={self.name!r}, image={self.image.shape}, label={self.label!r})"


def _integer_mask(array: np.ndarray, what: str) -> np.ndarray:
    """The array as a non-negative integer mask (bool becomes uint8); ValueError otherwise."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integers, got dtype {array.dtype}")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise ValueError(f"{what} has negative values")
    return array
