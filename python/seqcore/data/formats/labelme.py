"""LabelMe JSON annotations (polygons, rectangles, circles): one ``*.json`` per image, the image
being its ``imagePath``."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from seqcore.data.dataset import Dataset, Entry
from seqcore.data.images import ImageReadError
from seqcore.data.sample import GroundTruth

LABELME_SHAPES: tuple[str, ...] = ("polygon", "rectangle", "circle")


def read_labelme(
    path: str | Path,
    label_map: Mapping[str, str],
    class_ids: Mapping[str, int] | None = None,
    impurity_classes: Sequence[str] = (),
) -> GroundTruth:
    """Per-class instance masks from a LabelMe JSON file.

    ``label_map`` maps LabelMe labels to class names (unknown labels raise). Polygons,
    rectangles and circles are filled (pixel centres inside or on the outline); other shape
    types raise. Each shape is an instance, except shapes sharing label class and group_id,
    which form one. Impurities are painted first so defects win where they overlap.
    ``class_ids`` defaults to 1, 2, ... over the sorted class names of ``label_map``.
    """
    path = Path(path)
    doc = _labelme_document(path)
    try:
        height, width = int(doc["imageHeight"]), int(doc["imageWidth"])
        shapes = list(doc["shapes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a LabelMe annotation ({exc.__class__.__name__}: {exc})") from exc
    ids = dict(class_ids) if class_ids is not None else {c: i for i, c in enumerate(sorted(set(label_map.values())), 1)}
    layers: dict[tuple[str, object], np.ndarray] = {}
    for number, shape in enumerate(shapes):
        label = shape.get("label")
        if label not in label_map:
            raise ValueError(f"{path}: shape {number} has label {label!r} missing from the label table "
                             f"{sorted(label_map)}")
        class_name = label_map[label]
        if class_name not in ids:
            raise ValueError(f"{path}: class {class_name!r} (label {label!r}) has no class id in {ids}")
        group = shape.get("group_id")
        key = (class_name, ("group", group) if group is not None else ("shape", number))
        mask = layers.setdefault(key, np.zeros((height, width), bool))
        mask |= _rasterize(shape, (height, width), f"{path}: shape {number}")
    impurities = set(impurity_classes)
    ordered = sorted(layers.items(), key=lambda kv: kv[0][0] not in impurities)  # stable: impurities first
    return GroundTruth.from_layers((height, width), [(c, m) for (c, _), m in ordered], class_ids=ids)


def _labelme_document(path: Path) -> dict:
    """The parsed JSON object of a LabelMe file; ValueError naming the file when it is not one."""
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a LabelMe annotation ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a LabelMe annotation (top level is not an object)")
    return doc


def _rasterize(shape: Mapping, size: tuple[int, int], where: str) -> np.ndarray:
    """Filled bool mask of one LabelMe shape (polygon, rectangle or circle)."""
    kind = shape.get("shape_type") or "polygon"
    points = np.asarray(shape.get("points", []), dtype=np.float64)
    if kind not in LABELME_SHAPES:
        raise ValueError(f"{where}: unsupported shape type {kind!r} (supported: {', '.join(LABELME_SHAPES)})")
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"{where}: points must be finite [x, y] pairs")
    needed = {"polygon": 3, "rectangle": 2, "circle": 2}[kind]
    if (kind == "polygon" and len(points) < 3) or (kind != "polygon" and len(points) != needed):
        raise ValueError(f"{where}: a {kind} needs {'at least 3' if kind == 'polygon' else needed} points, "
                         f"got {len(points)}")
    height, width = size
    if kind == "polygon":
        mask = np.zeros(size, np.uint8)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
        return mask.astype(bool)
    ys, xs = np.mgrid[:height, :width]
    if kind == "rectangle":
        (x0, x1), (y0, y1) = np.sort(points[:, 0]), np.sort(points[:, 1])
        return (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    (cx, cy), (px, py) = points
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= (px - cx) ** 2 + (py - cy) ** 2


class LabelMeDataset(Dataset):
    """Every ``*.json`` under ``root`` as LabelMe annotation; ``label_map`` maps LabelMe labels to classes.

    ``defect_classes`` defaults to every mapped class not in ``impurity_classes``.
    """

    def __init__(self, root: str | Path, label_map: Mapping[str, str], defect_classes: Sequence[str] | None = None,
                 impurity_classes: Sequence[str] = (), **kwargs) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"LabelMe folder not found: {root}")
        impurities = list(impurity_classes)
        defects = (list(defect_classes) if defect_classes is not None
                   else sorted(set(label_map.values()) - set(impurities)))
        unknown = sorted(set(label_map.values()) - set(defects) - set(impurities))
        if unknown:
            raise ValueError(f"label table classes {unknown} are neither defect nor impurity classes")
        ids = {c: i for i, c in enumerate(sorted(set(label_map.values())), 1)}
        entries = []
        for json_path in sorted(root.rglob("*.json")):
            name = json_path.relative_to(root).with_suffix("").as_posix()
            doc = _labelme_document(json_path)
            image_path = _image_path(json_path, doc.get("imagePath"), root)
            embedded = _embedded_loader(json_path) if isinstance(doc.get("imageData"), str) else None
            entries.append(Entry(name, image_path if image_path and image_path.is_file() else None, "",
                                 _loader(json_path, dict(label_map), ids, tuple(impurities)), json_path,
                                 embedded_image=embedded))
        if not entries:
            raise ValueError(f"no LabelMe JSON files under {root}")
        super().__init__(entries, defects, impurities, description=f"LabelMe {root}", **kwargs)


def _image_path(json_path: Path, image_ref: object, root: Path) -> Path | None:
    """The file ``imagePath`` names, relative to the JSON file; ValueError when it points outside
    the annotation folder ``root`` (a shared annotation set must not read arbitrary files)."""
    if image_ref is None or image_ref == "":
        return None
    if not isinstance(image_ref, str):
        raise ValueError(f"{json_path}: imagePath must be a string, got {image_ref!r}")
    image_path = json_path.parent / image_ref.replace("\\", "/")
    if not image_path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{json_path}: imagePath {image_ref!r} points outside the annotation folder {root}")
    return image_path


def _embedded_loader(path: Path) -> Callable[[], bytes]:
    """Decoded bytes of the file's base64 ``imageData``, read when needed (not held in memory)."""
    def load() -> bytes:
        try:
            return base64.b64decode(_labelme_document(path)["imageData"], validate=True)
        except (binascii.Error, KeyError, TypeError) as exc:
            raise ImageReadError(path, f"imageData is not base64 ({exc})") from exc

    return load


def _loader(path: Path, label_map: dict[str, str], ids: dict[str, int], impurities: tuple[str, ...]):
    return lambda: read_labelme(path, label_map, ids, impurities)
