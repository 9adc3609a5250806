"""Annotated instances of one image and the scores of their pixels (inside the region of interest).

Why: defect-wise recall and AUPRO need, per instance, the share of its pixels above any
threshold. Keeping each instance's pixel scores (4 bytes per annotated pixel; instances are
small next to the image) makes both exact for every threshold.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from seqcore.data.sample import GroundTruth


@dataclass
class ImageInstances:
    """Instances of one image: class index, pixel count and scores grouped per instance."""

    classes: np.ndarray  # (k,) int64 class index of each instance
    sizes: np.ndarray  # (k,) int64 pixels of each instance inside the region of interest
    scores: np.ndarray  # (sizes.sum(),) float32, instance after instance
    predicted: np.ndarray | None = None  # (k,) int64 predicted pixels (fixed-threshold mode)


def extract_instances(
    gt: GroundTruth,
    score_map: np.ndarray,
    class_index: Mapping[int, int],
    present: np.ndarray,
    prediction: np.ndarray | None = None,
) -> ImageInstances:
    """Instances of the class ids in ``present`` (given ids, else 8-connected components per class)."""
    classes, sizes, scores, predicted = [], [], [], []
    for cid in present:
        rows, cols = _bounding_box(gt.class_mask == cid)
        in_class = gt.class_mask[rows, cols] == cid
        if gt.instance_mask is None:
            _, labels = cv2.connectedComponents(in_class.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        else:
            labels = np.where(in_class, gt.instance_mask[rows, cols], 0)
            if (labels[in_class] == 0).any():
                raise ValueError(f"pixels of class id {cid} have instance id 0; give every class pixel an instance")
        keep = in_class if gt.roi is None else in_class & gt.roi[rows, cols]
        ids = labels[keep]
        order = np.argsort(ids, kind="stable")
        _, counts = np.unique(ids[order], return_counts=True)
        classes.append(np.full(len(counts), class_index[int(cid)], np.int64))
        sizes.append(counts.astype(np.int64))
        scores.append(score_map[rows, cols][keep][order].astype(np.float32, copy=False))
        if prediction is not None:
            hits = prediction[rows, cols][keep][order]
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            predicted.append(np.add.reduceat(hits.astype(np.int64), starts) if len(counts) else counts)
    if not classes:
        empty = np.zeros(0, np.int64)
        return ImageInstances(empty, empty, np.zeros(0, np.float32), empty if prediction is not None else None)
    return ImageInstances(
        np.concatenate(classes),
        np.concatenate(sizes),
        np.concatenate(scores),
        np.concatenate(predicted).astype(np.int64) if prediction is not None else None,
    )


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the smallest box holding every True pixel of ``mask``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
