"""A folder of images (nominal, unannotated): training data or images to predict on."""
from __future__ import annotations

from pathlib import Path

from seqcore.data.dataset import Dataset, Entry
from seqcore.data.formats.masks import nominal_loader
from seqcore.data.images import IMAGE_SUFFIXES


def image_files(folder: Path, recursive: bool) -> list[Path]:
    """Sorted image files of ``folder`` with any known suffix, in any letter case."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class FolderDataset(Dataset):
    """All images under a folder (recursively), or one image file; names are relative paths without suffix."""

    def __init__(self, root: str | Path, label: str = "good", recursive: bool = True, **kwargs) -> None:
        self.root = Path(root)
        if self.root.is_file():
            files, base = [self.root], self.root.parent
        elif self.root.is_dir():
            files, base = image_files(self.root, recursive), self.root
        else:
            raise FileNotFoundError(f"image folder not found: {self.root}")
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {self.root}")
        entries = [Entry(p.relative_to(base).with_suffix("").as_posix(), p, label, nominal_loader(p)) for p in files]
        super().__init__(entries, [], description=f"images {self.root}", **kwargs)
