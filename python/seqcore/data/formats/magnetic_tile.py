"""The magnetic-tile layout: ``split.csv`` (image, class, split) with the binary mask ``.png``
beside each ``.jpg``; the five public classes blowhole, break, crack, fray and uneven (and free)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

from seqcore.data.dataset import Dataset, Entry, SplitNotFoundError
from seqcore.data.formats.masks import binary_loader, class_table, nominal_loader

MAGNETIC_TILE_DEFECTS: tuple[str, ...] = ("blowhole", "break", "crack", "fray", "uneven")
MAGNETIC_TILE_NOMINAL = "free"
_COLUMNS = ("image", "class", "split")


class MagneticTileRow(NamedTuple):
    """One image of a split: ``name`` is ``MT_<Class>/Imgs/<stem>``, matching ``maps/<name>.npy``."""

    name: str
    image_path: Path
    label: str

    @property
    def mask_path(self) -> Path:
        """The binary mask PNG stored beside the image."""
        return self.image_path.with_suffix(".png")


def read_magnetic_tile_table(root: str | Path, split: str) -> tuple[list[MagneticTileRow], tuple[str, ...]]:
    """The rows of ``split`` in ``root/split.csv`` and the sorted defect classes of the whole table,
    so class ids derived from them agree across splits. Every row's class must be ``free`` or one of
    :data:`MAGNETIC_TILE_DEFECTS`."""
    root = Path(root)
    table = root / "split.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{table} not found: is {root} the magnetic-tile data root?")
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not set(_COLUMNS) <= set(reader.fieldnames or ()):
            raise ValueError(f"{table} needs the columns {', '.join(_COLUMNS)}; it has {reader.fieldnames}")
        rows = list(reader)
    known = (MAGNETIC_TILE_NOMINAL, *MAGNETIC_TILE_DEFECTS)
    for row in rows:
        if row["class"] not in known:
            raise ValueError(f"{table}: unknown class {row['class']!r} for {row['image']}; known: {', '.join(known)}")
    picked = [MagneticTileRow(Path(r["image"]).with_suffix("").as_posix(), root / r["image"], r["class"])
              for r in rows if r["split"] == split]
    if not picked:
        splits = sorted({r["split"] for r in rows})
        raise SplitNotFoundError(f"split {split!r} is empty in {table}; splits there: {splits}")
    return picked, tuple(sorted({r["class"] for r in rows} - {MAGNETIC_TILE_NOMINAL}))


class MagneticTileDataset(Dataset):
    """One split of ``root/split.csv``; class ids are fixed by the whole table so every split agrees."""

    def __init__(self, root: str | Path, split: str = "train", **kwargs) -> None:
        self.root = Path(root)
        rows, defect_classes = read_magnetic_tile_table(self.root, split)
        names = class_table(defect_classes)
        entries = []
        for row in rows:
            if row.label == MAGNETIC_TILE_NOMINAL:  # nominal: empty annotation, whatever a mask holds
                entries.append(Entry(row.name, row.image_path, row.label, nominal_loader(row.image_path)))
                continue
            mask = row.mask_path if row.mask_path.is_file() else None
            entries.append(Entry(row.name, row.image_path, row.label,
                                 binary_loader(mask, row.label, names, row.image_path), mask))
        super().__init__(entries, defect_classes, description=f"magnetic tile, split '{split}'", **kwargs)
