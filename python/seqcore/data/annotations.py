"""Ground-truth readers: binary mask PNGs (MVTec AD, magnetic tile, plain folders), the synthetic
class*1000+instance masks, and LabelMe JSON (polygons, rectangles, circles).

Each dataset reader returns :class:`AnnotatedImage` items that load their annotation on
demand, so large splits are never held in memory at once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np

from seqcore.data.images import IMAGE_SUFFIXES, image_size, read_mask
from seqcore.data.magnetic_tile import MAGNETIC_TILE_DEFECTS, MAGNETIC_TILE_NOMINAL, read_magnetic_tile_table
from seqcore.metrics.ground_truth import GroundTruth

LABELME_SHAPES: tuple[str, ...] = ("polygon", "rectangle", "circle")


@dataclass
class AnnotatedImage:
    """One image of an evaluation split: its name, where its pixels are and how to load its annotation."""

    name: str  # path-like id without suffix, matching ``maps/<name>.npy`` of ``seqcore predict``
    image_path: Path | None
    load: Callable[[], GroundTruth] = field(repr=False)
    label: str = ""  # image-level class name when the dataset gives one

    def ground_truth(self) -> GroundTruth:
        return self.load()


@dataclass
class AnnotatedSplit:
    """The images of a split and its declared defect and impurity classes."""

    items: list[AnnotatedImage]
    defect_classes: list[str]
    impurity_classes: list[str] = field(default_factory=list)


def read_binary_mask(path: str | Path, class_name: str) -> GroundTruth:
    """One-class annotation from a mask PNG (8-bit: > 127 is the class, see GroundTruth.from_binary_mask)."""
    return GroundTruth.from_binary_mask(read_mask(path), class_name)


def read_class_instance_mask(path: str | Path, class_names: Mapping[int, str],
                             border_px: int = 0) -> GroundTruth:
    """Annotation from a 16-bit mask holding class id * 1000 + instance id (0 = background).

    ``border_px`` > 0 excludes a frame of that width from the region of interest.
    """
    value = read_mask(path).astype(np.int32)
    class_mask, instance_mask = value // 1000, value % 1000
    unknown = sorted(set(np.unique(class_mask).tolist()) - {0} - set(class_names))
    if unknown:
        raise ValueError(f"mask {path} has class ids {unknown} missing from the class table {dict(class_names)}")
    if ((class_mask > 0) & (instance_mask == 0)).any():
        raise ValueError(f"mask {path} has class pixels with instance id 0")
    roi = None
    if border_px > 0:
        roi = np.zeros(value.shape, bool)
        roi[border_px : value.shape[0] - border_px, border_px : value.shape[1] - border_px] = True
    return GroundTruth(class_mask, dict(class_names), instance_mask=instance_mask, roi=roi)


def magnetic_tile_split(root: str | Path, split: str) -> AnnotatedSplit:
    """Images of ``split`` listed in ``root/split.csv`` with masks ``MT_<Class>/Imgs/<name>.png``."""
    items = []
    for row in read_magnetic_tile_table(root, split)[0]:
        if row.label == MAGNETIC_TILE_NOMINAL:
            load = _nominal_loader(row.image_path)  # nominal: empty annotation, whatever the mask holds
        else:
            load = _binary_loader(row.mask_path, row.label)
        items.append(AnnotatedImage(row.name, row.image_path, load, row.label))
    return AnnotatedSplit(items, list(MAGNETIC_TILE_DEFECTS))


def mvtec_split(category_root: str | Path) -> AnnotatedSplit:
    """MVTec AD test images ``test/<type>/<n>.png`` with masks ``ground_truth/<type>/<n>_mask.png``."""
    root = Path(category_root)
    test = root / "test"
    if not test.is_dir():
        raise FileNotFoundError(f"{test} not found: is {root} an MVTec AD category folder?")
    items, defects = [], []
    for type_dir in sorted(p for p in test.iterdir() if p.is_dir()):
        if type_dir.name != "good":
            defects.append(type_dir.name)
        for image_path in sorted(type_dir.glob("*.png")):
            name = f"test/{type_dir.name}/{image_path.stem}"
            if type_dir.name == "good":
                load = _nominal_loader(image_path)
            else:
                load = _binary_loader(root / "ground_truth" / type_dir.name / f"{image_path.stem}_mask.png",
                                      type_dir.name)
            items.append(AnnotatedImage(name, image_path, load, type_dir.name))
    if not items:
        raise ValueError(f"no test images under {test}")
    return AnnotatedSplit(items, defects)


def mask_folder_split(masks_dir: str | Path, class_name: str = "defect",
                      images_dir: str | Path | None = None) -> AnnotatedSplit:
    """Binary masks ``<masks_dir>/<name>.png`` (any depth) of one class; images optional."""
    masks_dir = Path(masks_dir)
    if not masks_dir.is_dir():
        raise FileNotFoundError(f"masks folder not found: {masks_dir}")
    items = []
    for mask_path in sorted(masks_dir.rglob("*.png")):
        name = mask_path.relative_to(masks_dir).with_suffix("").as_posix()
        image_path = _find_image(Path(images_dir), name) if images_dir is not None else None
        items.append(AnnotatedImage(name, image_path, _binary_loader(mask_path, class_name)))
    if not items:
        raise ValueError(f"no mask PNGs under {masks_dir}")
    return AnnotatedSplit(items, [class_name])


def synthetic_split(root: str | Path, variant: str, split: str) -> AnnotatedSplit:
    """``seqcore synth`` output: ``<root>/<variant>/<split>/masks/<name>.png`` + ``classes.json``.

    The region of interest excludes the masked plate border (``camera.border_px`` in
    ``params/<name>.json``) when the parameters are present.
    """
    base = Path(root) / variant
    classes_file = base / "classes.json"
    if not classes_file.is_file():
        raise FileNotFoundError(f"{classes_file} not found: is {root} a `seqcore synth` output folder?")
    classes = json.loads(classes_file.read_text())
    names = {int(cid): str(name) for name, cid in classes["ids"].items()}
    masks_dir = base / split / "masks"
    items = []
    for mask_path in sorted(masks_dir.rglob("*.png")):
        name = mask_path.relative_to(masks_dir).with_suffix("").as_posix()
        image_path = base / split / "images" / f"{name}.png"
        load = _bind(read_class_instance_mask, mask_path, names, _border_px(base / split / "params" / f"{name}.json"))
        items.append(AnnotatedImage(name, image_path if image_path.is_file() else None, load))
    if not items:
        raise ValueError(f"no masks under {masks_dir}")
    return AnnotatedSplit(items, list(classes["defects"]), list(classes.get("impurities", [])))


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
            raise ValueError(f"{path}: shape {number} has label {label!r} missing from the label table {sorted(label_map)}")
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


def labelme_split(folder: str | Path, label_map: Mapping[str, str], defect_classes: Sequence[str],
                  impurity_classes: Sequence[str] = ()) -> AnnotatedSplit:
    """Every ``*.json`` under ``folder`` as LabelMe annotation; the image is its ``imagePath``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"LabelMe folder not found: {folder}")
    unknown = sorted(set(label_map.values()) - set(defect_classes) - set(impurity_classes))
    if unknown:
        raise ValueError(f"label table classes {unknown} are neither defect nor impurity classes")
    ids = {c: i for i, c in enumerate(sorted(set(label_map.values())), 1)}
    items = []
    for json_path in sorted(folder.rglob("*.json")):
        name = json_path.relative_to(folder).with_suffix("").as_posix()
        image_ref = _labelme_document(json_path).get("imagePath")
        image_path = (json_path.parent / image_ref) if image_ref else None
        load = _bind(read_labelme, json_path, label_map, ids, tuple(impurity_classes))
        items.append(AnnotatedImage(name, image_path if image_path and image_path.is_file() else None, load))
    if not items:
        raise ValueError(f"no LabelMe JSON files under {folder}")
    return AnnotatedSplit(items, list(defect_classes), list(impurity_classes))


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


def _border_px(params_path: Path) -> int:
    """Width of the masked plate border recorded by ``seqcore synth`` (0 without parameters)."""
    if not params_path.is_file():
        return 0
    try:
        return int(json.loads(params_path.read_text()).get("camera", {}).get("border_px", 0))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"corrupt parameters file {params_path}: {exc}") from exc


def _find_image(images_dir: Path, name: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        candidate = images_dir / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _bind(function: Callable[..., GroundTruth], *args) -> Callable[[], GroundTruth]:
    return lambda: function(*args)


def _binary_loader(mask_path: Path, class_name: str) -> Callable[[], GroundTruth]:
    return _bind(read_binary_mask, mask_path, class_name)


def _nominal_loader(image_path: Path) -> Callable[[], GroundTruth]:
    """Empty annotation of the image's size (nominal images need no mask file)."""
    return lambda: GroundTruth.empty(image_size(image_path))
