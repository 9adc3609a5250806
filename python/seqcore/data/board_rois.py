"""Regions of interest from the kitchen-board study's annotation JSON: active-area polygons minus exclusion boxes.

One JSON file per image, ``<image stem>.json`` (or ``<sample name>.json``) in a folder. Accepted schema::

    {
      "borders": [[[x, y], [x, y], ...], ...],      # active-area polygon(s), pixel coordinates;
                                                    # one polygon may be given as a bare point list,
                                                    # each polygon also as {"points": [...]}
      "labels":  [[x0, y0, x1, y1], ...]            # exclusion rectangles (corners, either order),
                                                    # or {"x", "y", "width", "height"},
                                                    # or {"points": [[x0, y0], [x1, y1]]}
    }

Both keys are optional: without ``borders`` the whole image is active. The region of interest
is the filled polygons minus the rectangles; it replaces (intersects) the sample's own ROI, so
every method trains, predicts and is evaluated inside it.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from seqcore.data.dataset import Dataset, Entry
from seqcore.data.sample import GroundTruth, Sample


class BoardAnnotationError(ValueError):
    """A board annotation JSON that does not follow the accepted schema (see the module docstring)."""


def _points(value: Any, where: str) -> np.ndarray:
    if isinstance(value, dict) and "points" in value:
        value = value["points"]
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BoardAnnotationError(f"{where}: expected a list of [x, y] points, got {value!r}") from exc
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise BoardAnnotationError(f"{where}: expected a list of [x, y] points, got shape {points.shape}")
    return points


def _polygons(borders: Any) -> list[np.ndarray]:
    if not isinstance(borders, list):
        raise BoardAnnotationError(f"borders must be a list of polygons, got {type(borders).__name__}")
    if borders and isinstance(borders[0], list) and borders[0] and not isinstance(borders[0][0], list):
        borders = [borders]  # one polygon as a bare point list
    polygons = [_points(p, f"borders[{i}]") for i, p in enumerate(borders)]
    for i, p in enumerate(polygons):
        if len(p) < 3:
            raise BoardAnnotationError(f"borders[{i}] needs at least 3 points, got {len(p)}")
    return polygons


def _rectangle(label: Any, where: str) -> tuple[float, float, float, float]:
    if isinstance(label, dict) and {"x", "y", "width", "height"} <= set(label):
        x, y, w, h = (float(label[k]) for k in ("x", "y", "width", "height"))
        return x, y, x + w, y + h
    if isinstance(label, dict) and "points" in label:
        p = _points(label, where)
        return p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()
    if isinstance(label, list) and len(label) == 4 and all(isinstance(v, (int, float)) for v in label):
        x0, y0, x1, y1 = (float(v) for v in label)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    raise BoardAnnotationError(f"{where}: expected [x0, y0, x1, y1], {{x, y, width, height}} or {{points}}, "
                               f"got {label!r}")


def board_roi(annotation: Any, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool region of interest: the filled ``borders`` polygons (all when absent) minus the ``labels`` boxes."""
    if not isinstance(annotation, dict):
        raise BoardAnnotationError(f"expected a JSON object, got {type(annotation).__name__}")
    h, w = shape
    if "borders" in annotation and annotation["borders"] is not None:
        mask = np.zeros((h, w), np.uint8)
        polygons = [np.round(p).astype(np.int32) for p in _polygons(annotation["borders"])]
        cv2.fillPoly(mask, polygons, 1)
        roi = mask.astype(bool)
    else:
        roi = np.ones((h, w), bool)
    labels = annotation.get("labels") or []
    if not isinstance(labels, list):
        raise BoardAnnotationError(f"labels must be a list of rectangles, got {type(labels).__name__}")
    for i, label in enumerate(labels):
        x0, y0, x1, y1 = _rectangle(label, f"labels[{i}]")
        r0, r1 = int(np.clip(np.floor(y0), 0, h)), int(np.clip(np.ceil(y1), 0, h))
        c0, c1 = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.ceil(x1), 0, w))
        roi[r0:r1, c0:c1] = False
    return roi


def read_board_roi(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """``board_roi`` of one JSON file; BoardAnnotationError names the file on bad content."""
    try:
        return board_roi(json.loads(Path(path).read_text()), shape)
    except (json.JSONDecodeError, BoardAnnotationError) as exc:
        raise BoardAnnotationError(f"{path}: {exc}") from exc


class BoardROIDataset(Dataset):
    """A dataset whose annotations (and samples) carry the region of interest of their board JSON, where one exists.

    Entries' ground truths get the ROI (so ``seqcore evaluate``, which reads entries only, sees it);
    unannotated samples get an empty annotation holding it (so training and prediction see it).
    """

    def __init__(self, base: Dataset, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"board annotation folder not found: {self.folder}")
        entries = [replace(e, load_gt=self._loader(e)) for e in base.entries]
        super().__init__(entries, base.defect_classes, base.impurity_classes, base.description,
                         base.on_error, base.image_mode)
        self.base = base

    def annotation_path(self, name: str) -> Path | None:
        """``<folder>/<name>.json`` or ``<folder>/<stem>.json``, whichever exists first."""
        for candidate in (self.folder / f"{name}.json", self.folder / f"{Path(name).name}.json"):
            if candidate.is_file():
                return candidate
        return None

    def _loader(self, entry: Entry):
        def load() -> GroundTruth | None:
            gt = entry.load_gt()
            path = self.annotation_path(entry.name)
            if gt is not None and path is not None:
                roi = read_board_roi(path, gt.shape)
                gt.roi = roi if gt.roi is None else gt.roi & roi
            return gt
        return load

    def _sample(self, entry: Entry, image: np.ndarray) -> Sample:
        sample = self.base._sample(entry, image)
        sample = Sample(sample.name, sample.image, sample.label, entry.load_gt)
        path = self.annotation_path(entry.name)
        if sample.gt is None and path is not None:
            sample = Sample(sample.name, sample.image, sample.label,
                            GroundTruth.empty(image.shape[:2], read_board_roi(path, image.shape[:2])))
        return sample
