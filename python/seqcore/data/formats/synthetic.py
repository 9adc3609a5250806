"""``seqcore synth`` output: ``<root>/<variant>/<split>/{images,masks,params}/<name>.*`` and
``<root>/<variant>/classes.json``.

Masks are 16-bit PNGs holding class id * 1000 + instance id (written by
:meth:`seqcore.synth.surface.Rendering.encoded_mask`, decoded only by :func:`decode_class_instance`);
the region of interest is the plate without the masked border ``camera.border_px`` of
``params/<name>.json`` (:func:`border_roi`).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from seqcore.data.dataset import Dataset, Entry, SplitNotFoundError
from seqcore.data.images import image_size, read_mask
from seqcore.data.sample import GroundTruth, Sample

DEFAULT_VARIANT = "Synth_WS"  # the water-stained variant `seqcore synth` and `seqcore demo` evaluate on
INSTANCE_BASE = 1000


def decode_class_instance(value: np.ndarray, where: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(class mask, instance mask) of a class * 1000 + instance mask; ValueError naming ``where``
    when a pixel has a class but no instance or an instance but no class."""
    value = np.asarray(value).astype(np.int32)
    class_mask, instance_mask = value // INSTANCE_BASE, value % INSTANCE_BASE
    if ((class_mask > 0) & (instance_mask == 0)).any():
        raise ValueError(f"mask {where} has class pixels with instance id 0")
    if ((class_mask == 0) & (instance_mask > 0)).any():
        raise ValueError(f"mask {where} has values 1..{INSTANCE_BASE - 1} (an instance without a class); "
                         f"expected class id * {INSTANCE_BASE} + instance id")
    return class_mask, instance_mask


def border_roi(shape: tuple[int, int], border_px: int) -> np.ndarray:
    """The region of interest of an image whose frame of ``border_px`` pixels is masked."""
    roi = np.zeros(shape, bool)
    roi[border_px : shape[0] - border_px, border_px : shape[1] - border_px] = True
    return roi


def read_class_instance_mask(path: str | Path, class_names: Mapping[int, str], border_px: int = 0,
                             shape: tuple[int, int] | None = None) -> GroundTruth:
    """Annotation from a class * 1000 + instance mask; ``border_px`` > 0 excludes that frame from the
    region of interest; with ``shape`` the mask must have that size."""
    value = read_mask(path)
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(f"mask {path} has shape {value.shape}, its image {tuple(shape)}")
    class_mask, instance_mask = decode_class_instance(value, path)
    unknown = sorted(set(np.unique(class_mask).tolist()) - {0} - set(class_names))
    if unknown:
        raise ValueError(f"mask {path} has class ids {unknown} missing from the class table {dict(class_names)}")
    roi = border_roi(value.shape, border_px) if border_px > 0 else None
    return GroundTruth(class_mask, dict(class_names), instance_mask=instance_mask, roi=roi)


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``; errors name the file."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"missing {what} file {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt {what} file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"corrupt {what} file {path}: the top level is not an object")
    return doc


def border_px(params_path: Path) -> int:
    """Width of the masked plate border recorded by ``seqcore synth`` (0 without a parameters file)."""
    if not params_path.is_file():
        return 0
    params = read_json(params_path, "parameters")
    try:
        return int(params.get("camera", {}).get("border_px", 0))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"corrupt parameters file {params_path}: {exc}") from None


class SyntheticDataset(Dataset):
    """Images of ``root/<variant>/<split>`` with class, instance and ROI ground truth; a sample's label
    is ``+``-joined defect classes present in its mask, or ``good``."""

    def __init__(self, root: str | Path, variant: str = DEFAULT_VARIANT, split: str = "train", **kwargs) -> None:
        self.root = Path(root)
        self.variant, self.split = variant, split
        self.folder = self.root / variant / split
        if not (self.root / variant).is_dir():
            found = sorted(p.parent.name for p in self.root.glob("*/classes.json"))
            raise FileNotFoundError(f"no variant {variant!r} under {self.root} (found: {found})")
        if not (self.folder / "images").is_dir():
            raise SplitNotFoundError(f"no split {split!r} in {self.root / variant}")
        classes_file = self.root / variant / "classes.json"
        classes = read_json(classes_file, "classes")
        try:
            self.class_ids: dict[str, int] = {str(k): int(v) for k, v in classes["ids"].items()}
            defects, impurities = list(classes["defects"]), list(classes.get("impurities", []))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed {classes_file}: {exc!r}") from None
        self.class_names = {cid: name for name, cid in self.class_ids.items()}
        entries = [self._entry(p.stem) for p in sorted((self.folder / "images").glob("*.png"))]
        super().__init__(entries, defects, impurities, description=f"synthetic {variant}, split '{split}'",
                         **kwargs)

    def _entry(self, name: str) -> Entry:
        image, mask = self.folder / "images" / f"{name}.png", self.folder / "masks" / f"{name}.png"
        params = self.folder / "params" / f"{name}.json"
        names = self.class_names

        def load() -> GroundTruth:
            return read_class_instance_mask(mask, names, border_px(params), image_size(image))

        return Entry(name, image, "", load, mask)

    def _sample(self, entry: Entry, image: np.ndarray) -> Sample:
        gt = entry.ground_truth()
        present = {self.class_names.get(int(c)) for c in np.unique(gt.class_mask) if c}
        defects = sorted(present & set(self.defect_classes))
        return Sample(entry.name, image, "+".join(defects) if defects else "good", gt)

    def params(self, index: int) -> dict:
        """The JSON parameters the image was rendered with."""
        return read_json(self.folder / "params" / f"{self.names[index]}.json", "parameters")
