"""Binary mask PNGs (one class per file): the loaders shared by the MVTec AD, magnetic-tile and
mask-folder layouts, and the mask-folder layout itself."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from seqcore.data.dataset import Dataset, Entry
from seqcore.data.images import IMAGE_SUFFIXES, ImageReadError, image_size, read_mask
from seqcore.data.sample import GroundTruth, GroundTruthLoader, binary_mask


def read_binary_mask(path: str | Path, class_name: str, class_names: Mapping[int, str] | None = None,
                     image_path: Path | None = None) -> GroundTruth:
    """One-class annotation from a mask file (8-bit: > 127 is the class; see :func:`binary_mask`).

    ``class_names`` is the dataset's class table (default ``{1: class_name}``); with
    ``image_path`` the mask must have the image's size.
    """
    names = dict(class_names) if class_names is not None else {1: class_name}
    class_id = next((cid for cid, name in names.items() if name == class_name), None)
    if class_id is None:
        raise ValueError(f"class {class_name!r} of {path} is not in the class table {names}")
    raw = read_mask(path)
    shape = image_size(image_path) if image_path is not None else raw.shape
    if raw.shape != shape:
        raise ImageReadError(path, f"mask shape {raw.shape} differs from image shape {shape}", "mask")
    return GroundTruth(binary_mask(raw).astype(np.int32) * class_id, names)


def binary_loader(mask_path: Path | None, class_name: str, class_names: Mapping[int, str],
                  image_path: Path | None = None) -> GroundTruthLoader:
    """Loader of a defective image's mask; it returns None when the image has no mask file."""
    if mask_path is None:
        return lambda: None
    return lambda: read_binary_mask(mask_path, class_name, class_names, image_path)


def nominal_loader(image_path: Path) -> GroundTruthLoader:
    """Empty annotation of the image's size, read from its header (nominal images need no mask)."""
    return lambda: GroundTruth.empty(image_size(image_path))


def class_table(defect_classes: tuple[str, ...]) -> dict[int, str]:
    """Class ids 1, 2, ... over the sorted defect classes, so every split of a dataset agrees."""
    return {i + 1: name for i, name in enumerate(sorted(defect_classes))}


def find_image(folder: Path, stem: str) -> Path | None:
    """``folder/<stem>.<ext>`` for the first image suffix that exists."""
    return next((folder / f"{stem}{s}" for s in IMAGE_SUFFIXES if (folder / f"{stem}{s}").is_file()), None)


class MaskFolderDataset(Dataset):
    """Binary masks ``<root>/<name>.png`` (any depth) of one class; images ``<images>/<name>.<ext>`` optional."""

    def __init__(self, root: str | Path, class_name: str = "defect", images: str | Path | None = None,
                 **kwargs) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"masks folder not found: {root}")
        if images is not None and not Path(images).is_dir():
            raise FileNotFoundError(f"images folder not found: {images}")
        names = {1: class_name}
        entries = []
        for mask_path in sorted(root.rglob("*.png")):
            name = mask_path.relative_to(root).with_suffix("").as_posix()
            image_path = find_image(Path(images), name) if images is not None else None
            entries.append(Entry(name, image_path, class_name, binary_loader(mask_path, class_name, names, image_path),
                                 mask_path))
        if not entries:
            raise ValueError(f"no mask PNGs under {root}")
        super().__init__(entries, [class_name], description=f"masks {root}", **kwargs)
