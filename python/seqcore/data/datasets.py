"""Image datasets: a folder of images, the MVTec AD layout and the magnetic-tile layout.

Datasets are Sequence-like and load images on access. Iteration reports unreadable images
by path and either skips them (``on_error="skip"``, the default; see ``skipped``) or raises
(``on_error="raise"``); indexing always raises :class:`ImageReadError`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from seqcore.data.images import IMAGE_SUFFIXES, ImageReadError, read_image, read_mask
from seqcore.data.magnetic_tile import read_magnetic_tile_table
from seqcore.data.sample import Sample
from seqcore.metrics.ground_truth import GroundTruth

NOMINAL_LABELS = ("good", "free", "nominal", "ok")


@dataclass(frozen=True)
class Entry:
    """Where one sample lives on disk."""

    name: str
    image_path: Path
    label: str
    mask_path: Path | None = None


class ImageDataset(Sequence[Sample]):
    """A list of image entries with optional binary masks; defect class ids are stable per dataset."""

    def __init__(self, entries: Sequence[Entry], on_error: str = "skip", image_mode: str = "auto") -> None:
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.entries = list(entries)
        self.on_error = on_error
        self.image_mode = image_mode
        self.skipped: list[ImageReadError] = []
        labels = sorted({e.label for e in self.entries if e.label not in NOMINAL_LABELS})
        self.defect_classes: tuple[str, ...] = tuple(labels)
        self.impurity_classes: tuple[str, ...] = ()
        self.class_names: dict[int, str] = {i + 1: name for i, name in enumerate(labels)}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        entry = self.entries[index]
        image = read_image(entry.image_path, self.image_mode)
        return Sample(entry.name, image, entry.label, self._ground_truth(entry, image.shape[:2]))

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self.entries)):
            try:
                yield self[index]
            except ImageReadError as exc:
                if self.on_error == "raise":
                    raise
                self.skipped.append(exc)
                warnings.warn(f"skipping unreadable image: {exc}", stacklevel=2)

    def _ground_truth(self, entry: Entry, shape: tuple[int, int]) -> GroundTruth | None:
        """Empty for nominal images, else the binary mask file (> 127 for 8-bit, > 0 otherwise) as the
        image's class; None when a defective image has no mask."""
        if entry.label in NOMINAL_LABELS:
            return GroundTruth(np.zeros(shape, np.int32), dict(self.class_names))
        if entry.mask_path is None:
            return None
        raw = read_mask(entry.mask_path)
        if raw.shape != tuple(shape):
            raise ImageReadError(entry.mask_path, f"mask shape {raw.shape} differs from image shape {shape}")
        binary = raw > 127 if raw.dtype == np.uint8 else raw > 0
        class_id = next((i for i, n in self.class_names.items() if n == entry.label), 0)
        return GroundTruth(binary.astype(np.int32) * class_id, dict(self.class_names))


def _image_files(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class FolderDataset(ImageDataset):
    """All images under a folder (recursively); names are relative paths without suffix."""

    def __init__(self, root: str | Path, label: str = "good", recursive: bool = True, **kwargs) -> None:
        self.root = Path(root)
        if self.root.is_file():
            files, base = [self.root], self.root.parent
        elif self.root.is_dir():
            files, base = _image_files(self.root, recursive), self.root
        else:
            raise FileNotFoundError(f"image folder not found: {self.root}")
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {self.root}")
        entries = [Entry(p.relative_to(base).with_suffix("").as_posix(), p, label) for p in files]
        super().__init__(entries, **kwargs)


class MVTecDataset(ImageDataset):
    """MVTec AD: ``root/category/{train,test}/<label>/*.png``, masks in ``ground_truth``."""

    def __init__(self, root: str | Path, category: str, split: str = "train", **kwargs) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"MVTec AD split must be 'train' or 'test', got {split!r}")
        base = Path(root) / category
        folder = base / split
        if not folder.is_dir():
            raise FileNotFoundError(f"MVTec AD folder not found: {folder}")
        entries = []
        for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            label = label_dir.name
            for path in _image_files(label_dir, recursive=False):
                mask = base / "ground_truth" / label / f"{path.stem}_mask.png"
                entries.append(
                    Entry(f"{split}/{label}/{path.stem}", path, label, mask if mask.is_file() else None)
                )
        if not entries:
            raise ValueError(f"no images found under {folder}")
        super().__init__(entries, **kwargs)


class MagneticTileDataset(ImageDataset):
    """Magnetic tiles: ``split.csv`` (image, class, split); masks are the ``.png`` beside each ``.jpg``."""

    def __init__(self, root: str | Path, split: str = "train", **kwargs) -> None:
        self.root = Path(root)
        rows, defect_classes = read_magnetic_tile_table(self.root, split)
        entries = [Entry(row.name, row.image_path, row.label, row.mask_path if row.mask_path.is_file() else None)
                   for row in rows]
        super().__init__(entries, **kwargs)
        # class ids are fixed by the whole table so every split agrees on them
        self.defect_classes = defect_classes
        self.class_names = {i + 1: name for i, name in enumerate(defect_classes)}


def open_dataset(kind: str, root: str | Path, split: str | None = None, category: str | None = None,
                 on_error: str = "skip") -> ImageDataset:
    """Build a dataset from CLI-style arguments: ``folder``, ``mvtec`` or ``magnetic-tile``."""
    if kind == "folder":
        return FolderDataset(root, on_error=on_error)
    if kind == "mvtec":
        if category is None:
            raise ValueError("the MVTec AD layout needs a category (e.g. --category bottle)")
        return MVTecDataset(root, category, split or "train", on_error=on_error)
    if kind == "magnetic-tile":
        return MagneticTileDataset(root, split or "train", on_error=on_error)
    raise ValueError(f"unknown dataset kind {kind!r}; use folder, mvtec or magnetic-tile")
