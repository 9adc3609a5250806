"""Labelled training images from any seqcore dataset: grey image, binary defect target, valid-pixel mask.

The target is the union of the dataset's defect classes; impurity pixels (water stains,
fingerprints, ...) are background, as in the seed work: the network must learn to ignore them.
Pixels outside a region of interest carry no loss. Nominal images (no annotation or an empty
one) are all-background examples.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from seqcore.data.sample import GroundTruth, Sample
from seqcore.models.supervised.inputs import to_gray


@dataclass(frozen=True)
class LabelledImage:
    """One training image in the form the crop sampler uses."""

    name: str
    gray: np.ndarray  # (H, W) uint8
    target: np.ndarray  # (H, W) uint8, 1 = defect
    valid: np.ndarray  # (H, W) uint8, 1 = pixel carries loss


def defect_target(gt: GroundTruth | None, shape: tuple[int, int], defect_classes: Sequence[str]) -> np.ndarray:
    """(H, W) uint8 mask of the defect-class pixels of ``gt`` (all zero without an annotation)."""
    if gt is None:
        return np.zeros(shape, np.uint8)
    if gt.shape != tuple(shape):
        raise ValueError(f"annotation shape {gt.shape} differs from image shape {tuple(shape)}")
    ids = [cid for cid, name in gt.class_names.items() if name in set(defect_classes)]
    return np.isin(gt.class_mask, ids).astype(np.uint8)


def labelled_images(data: Iterable[Sample | np.ndarray], defect_classes: Sequence[str] | None = None
                    ) -> list[LabelledImage]:
    """Decode a dataset (or list of Samples, or plain nominal arrays) into training images; defect
    classes default to the dataset's and are needed once any Sample is annotated."""
    defects = defect_classes if defect_classes is not None else getattr(data, "defect_classes", None)
    out = []
    for index, sample in enumerate(data):
        if isinstance(sample, np.ndarray):  # an unannotated image: nominal, all background
            sample = Sample(f"image_{index}", sample, "")
        if not isinstance(sample, Sample):
            raise TypeError(f"supervised training needs Samples or image arrays, got {type(sample).__name__}")
        gray = to_gray(sample.image)
        gt = sample.gt
        if gt is not None and gt.class_names and not defects:
            raise ValueError("supervised training needs the defect class names (a dataset that has them, "
                             "or defect_classes=...)")
        valid = np.ones(gray.shape, np.uint8) if gt is None or gt.roi is None else gt.roi.astype(np.uint8)
        out.append(LabelledImage(sample.name, gray, defect_target(gt, gray.shape, defects or ()), valid))
    if not out:
        raise ValueError("supervised training got no images")
    return out
