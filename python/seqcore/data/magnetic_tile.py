"""The magnetic-tile layout's ``split.csv`` (image, class, split), read in one place for the
training datasets and the evaluation readers."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

MAGNETIC_TILE_DEFECTS: tuple[str, ...] = ("blowhole", "break", "crack")
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
        raise ValueError(f"split {split!r} is empty in {table}; splits there: {splits}")
    return picked, tuple(sorted({r["class"] for r in rows} - {MAGNETIC_TILE_NOMINAL}))
