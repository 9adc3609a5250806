"""MVTec AD: ``<category>/{train,test,validation}/<label>/<stem>.<ext>`` with masks
``<category>/ground_truth/<label>/<stem>_mask.png``; ``validation/`` (split ``val``) is optional."""
from __future__ import annotations

from pathlib import Path

from seqcore.data.dataset import Dataset, Entry, SplitNotFoundError
from seqcore.data.formats.folder import image_files
from seqcore.data.formats.masks import binary_loader, class_table, find_image, nominal_loader

MVTEC_SPLITS = {"train": "train", "test": "test", "val": "validation", "validation": "validation"}
NOMINAL = "good"


class MVTecDataset(Dataset):
    """One split of an MVTec AD category folder (``root``, or ``root/category``); images of any suffix."""

    def __init__(self, root: str | Path, split: str = "train", category: str | None = None, **kwargs) -> None:
        if split not in MVTEC_SPLITS:
            raise ValueError(f"MVTec AD split must be one of {', '.join(MVTEC_SPLITS)}, got {split!r}")
        base = Path(root) / category if category else Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"MVTec AD category folder not found: {base}")
        folder = base / MVTEC_SPLITS[split]
        if not folder.is_dir():
            raise SplitNotFoundError(f"{folder} not found: is {base} an MVTec AD category folder "
                                     "(train/, test/, optionally validation/)?" + _hint(base, category))
        label_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
        defects = tuple(d.name for d in label_dirs if d.name != NOMINAL)
        names = class_table(defects)
        entries = []
        for label_dir in label_dirs:
            label = label_dir.name
            for path in image_files(label_dir, recursive=False):
                name = f"{folder.name}/{label}/{path.stem}"
                if label == NOMINAL:
                    entries.append(Entry(name, path, label, nominal_loader(path)))
                    continue
                mask = find_image(base / "ground_truth" / label, f"{path.stem}_mask")
                entries.append(Entry(name, path, label, binary_loader(mask, label, names, path), mask))
        if not entries:
            raise ValueError(f"no images under {folder}/<label>/")
        super().__init__(entries, sorted(defects), description=f"MVTec AD {base.name}, split '{split}'", **kwargs)


def _hint(base: Path, category: str | None) -> str:
    """Suggest the categories when ``base`` looks like the MVTec AD root rather than a category."""
    categories = sorted(p.name for p in base.iterdir() if (p / "train").is_dir())
    return f" It holds the categories {categories}: pass one with --category." if categories and not category else ""
