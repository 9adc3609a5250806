"""``open_dataset``: the one entry point from a (kind, root, split) triple to a dataset, as the CLI gives it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from seqcore.data.dataset import Dataset
from seqcore.data.formats.folder import FolderDataset
from seqcore.data.formats.labelme import LabelMeDataset
from seqcore.data.formats.magnetic_tile import MagneticTileDataset
from seqcore.data.formats.masks import MaskFolderDataset
from seqcore.data.formats.mvtec import MVTecDataset
from seqcore.data.formats.synthetic import DEFAULT_VARIANT, SyntheticDataset

DATASET_KINDS = ("folder", "mvtec", "magnetic-tile", "synthetic", "labelme", "masks")
SPLIT_KINDS = ("mvtec", "magnetic-tile", "synthetic")  # the others ignore ``split``


def open_dataset(kind: str, root: str | Path, split: str | None = None, *, category: str | None = None,
                 variant: str = DEFAULT_VARIANT, images: str | Path | None = None, class_name: str = "defect",
                 label_map: Mapping[str, str] | None = None, defects: Sequence[str] | None = None,
                 impurities: Sequence[str] = (), on_error: str = "skip", image_mode: str = "auto") -> Dataset:
    """The ``split`` (default ``train``) of the dataset of layout ``kind`` at ``root``.

    ``category``: MVTec AD category under ``root`` (else ``root`` is the category folder);
    ``variant``: synthetic variant; ``images`` and ``class_name``: the mask folder's images and
    class; ``label_map``, ``defects``, ``impurities``: LabelMe classes.
    """
    split = split or "train"
    common = {"on_error": on_error, "image_mode": image_mode}
    if kind == "folder":
        return FolderDataset(root, **common)
    if kind == "mvtec":
        return MVTecDataset(root, split, category, **common)
    if kind == "magnetic-tile":
        return MagneticTileDataset(root, split, **common)
    if kind == "synthetic":
        return SyntheticDataset(root, variant, split, **common)
    if kind == "masks":
        return MaskFolderDataset(root, class_name, images, **common)
    if kind == "labelme":
        if label_map is None:
            raise ValueError("a LabelMe dataset needs a label map (--label-map)")
        return LabelMeDataset(root, label_map, defects, impurities, **common)
    raise ValueError(f"unknown dataset kind {kind!r}; use one of {', '.join(DATASET_KINDS)}")
