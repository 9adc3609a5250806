"""The one dataset type every format reader builds: a list of entries that load on access.

Datasets are Sequence-like. Indexing decodes the image and returns a :class:`Sample` whose
ground truth loads on first access; :attr:`Dataset.entries` gives names, paths and annotations
without decoding any image (what evaluation needs). Iteration reports unreadable images by path
and either skips them (``on_error="skip"``, the default; see ``skipped``) or raises
(``on_error="raise"``); indexing always raises :class:`ImageReadError`.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqcore.data.images import ImageReadError, decode_image, read_image
from seqcore.data.sample import GroundTruth, GroundTruthLoader, Sample

NOMINAL_LABELS = ("good", "free", "nominal", "ok")


class SplitNotFoundError(FileNotFoundError, ValueError):
    """A dataset has no such split (a missing folder or no rows in its table)."""


@dataclass(frozen=True)
class Entry:
    """Where one image and its annotation live; ``load_gt`` returns None when there is none."""

    name: str  # path-like id without suffix, matching ``maps/<name>.npy`` of ``seqcore predict``
    image_path: Path | None
    label: str  # image-level class name when the layout gives one, else ""
    load_gt: GroundTruthLoader = field(repr=False, compare=False)
    annotation_path: Path | None = None  # the mask or JSON file, for messages
    embedded_image: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)  # encoded image
    # held by the annotation itself (LabelMe imageData), used when there is no image file

    def ground_truth(self) -> GroundTruth | None:
        return self.load_gt()


class Dataset(Sequence[Sample]):
    """Entries of one split with the split's defect and impurity class names."""

    def __init__(self, entries: Sequence[Entry], defect_classes: Sequence[str], impurity_classes: Sequence[str] = (),
                 description: str = "", on_error: str = "skip", image_mode: str = "auto") -> None:
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.entries = list(entries)
        self.defect_classes: tuple[str, ...] = tuple(defect_classes)
        self.impurity_classes: tuple[str, ...] = tuple(impurity_classes)
        self.description = description
        self.on_error = on_error
        self.image_mode = image_mode
        self.skipped: list[ImageReadError] = []

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        entry = self.entries[index]
        if entry.image_path is None and entry.embedded_image is not None:
            where = entry.annotation_path or entry.name
            return self._sample(entry, decode_image(entry.embedded_image(), where, self.image_mode))
        if entry.image_path is None:
            raise ImageReadError(entry.annotation_path or entry.name, "no image file belongs to this annotation")
        return self._sample(entry, read_image(entry.image_path, self.image_mode))

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self.entries)):
            sample = self.read(index)
            if sample is not None:
                yield sample

    def read(self, index: int) -> Sample | None:
        """``self[index]``, or None for an unreadable image when ``on_error`` is "skip" (then recorded)."""
        try:
            return self[index]
        except ImageReadError as exc:
            if self.on_error == "raise":
                raise
            self.skipped.append(exc)
            warnings.warn(f"skipping unreadable image: {exc}", stacklevel=3)
            return None

    def _sample(self, entry: Entry, image: np.ndarray) -> Sample:
        return Sample(entry.name, image, entry.label, entry.load_gt)
