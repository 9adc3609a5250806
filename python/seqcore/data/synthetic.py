"""Reader of the synthetic datasets written by ``seqcore synth`` (one variant, one split).

Each item is a :class:`~seqcore.data.sample.Sample` whose ground truth carries the class
mask, instance ids and the region of interest (the plate without its masked border).
"""
from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Iterator, Sequence

import numpy as np

from seqcore.data.images import read_image, read_mask
from seqcore.data.sample import Sample
from seqcore.metrics.ground_truth import GroundTruth

__all__ = ["SyntheticDataset"]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"missing file {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt JSON file {path}: {exc}") from None


class SyntheticDataset(Sequence[Sample]):
    """Images of ``root/<variant>/<split>``, loaded on access, with their ground truth."""

    def __init__(self, root: str | Path, variant: str = "Synth_WS", split: str = "train") -> None:
        self.root = Path(root)
        self.variant, self.split = variant, split
        self.folder = self.root / variant / split
        if not (self.root / variant).is_dir():
            found = sorted(p.name for p in self.root.glob("*/classes.json"))
            raise FileNotFoundError(f"no variant {variant!r} under {self.root} (found: {found})")
        if not (self.folder / "images").is_dir():
            raise FileNotFoundError(f"no split {split!r} in {self.root / variant}")
        classes = _read_json(self.root / variant / "classes.json")
        try:
            self.class_ids: dict[str, int] = {str(k): int(v) for k, v in classes["ids"].items()}
            self.defect_classes: list[str] = list(classes["defects"])
            self.impurity_classes: list[str] = list(classes["impurities"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed {self.root / variant / 'classes.json'}: {exc}") from None
        self.class_names = {v: k for k, v in self.class_ids.items()}
        self.names = sorted(p.stem for p in (self.folder / "images").glob("*.png"))

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Sample]:
        for k in range(len(self)):
            yield self[k]

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        name = self.names[index]
        image = read_image(self.folder / "images" / f"{name}.png")
        gt = self.ground_truth(name, image.shape[:2])
        present = {self.class_names.get(int(c)) for c in np.unique(gt.class_mask) if c}
        defects = sorted(present & set(self.defect_classes))
        return Sample(name=name, image=image, label="+".join(defects) if defects else "good", gt=gt)

    def ground_truth(self, name: str, shape: tuple[int, int]) -> GroundTruth:
        """Class mask, instance ids and ROI of one image from its mask PNG and parameters."""
        mask = read_mask(self.folder / "masks" / f"{name}.png")
        if mask.shape != shape or mask.dtype != np.uint16:
            raise ValueError(
                f"mask of {name} must be uint16 {shape}, got {mask.dtype} {mask.shape}"
            )
        class_mask = (mask // 1000).astype(np.int32)
        unknown = set(np.unique(class_mask).tolist()) - set(self.class_names) - {0}
        if unknown:
            raise ValueError(f"mask of {name} holds unknown class ids {sorted(unknown)}")
        instance = (mask % 1000).astype(np.int32)
        params_path = self.folder / "params" / f"{name}.json"
        roi = None
        if params_path.is_file():
            border = int(_read_json(params_path).get("camera", {}).get("border_px", 0))
            roi = np.zeros(shape, dtype=bool)
            roi[border : shape[0] - border, border : shape[1] - border] = True
        return GroundTruth(class_mask, dict(self.class_names), instance, roi)

    def params(self, index: int) -> dict:
        """The JSON parameters the image was rendered with."""
        return _read_json(self.folder / "params" / f"{self.names[index]}.json")
