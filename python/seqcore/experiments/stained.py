"""Water stains on real images (docs/design.md §6, §18): a dataset wrapper adding the impurity class 'water_stain'.

Each image is stained with the generator's Algorithm 1 stains, seeded by its name, so every run
and every model sees the same stains. Stains are impurities: where a stain meets a defect, the
defect label wins; stain pixels elsewhere become class ``water_stain`` with one instance id per stain.
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from seqcore.data.dataset import Dataset
from seqcore.data.sample import GroundTruth, Sample
from seqcore.synth.water_stains import WaterStainParams, water_stains

STAIN_CLASS = "water_stain"
# Stains sized for magnetic-tile photos (~300 px): radius ~ 23 px, ~ 1/3 of 75-px cells stained,
# rim darkened by 15 % of full scale (the tiles are darker than the synthetic plates).
REAL_STAINS = WaterStainParams(radius_mm=1.4, radius_spread_mm=0.5, amplitude_mm=0.35, alpha=-0.15,
                               cell_size_mm=4.5, probability=0.35, pixel_pitch_mm=0.06)


def name_seed(name: str, seed: int) -> int:
    """A stable 31-bit stain seed for one image name (independent of Python's hash salt)."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def stained_ground_truth(gt: GroundTruth | None, stains: np.ndarray, shape: tuple[int, int]) -> GroundTruth:
    """The image's annotation plus one ``water_stain`` instance per stain id (defect pixels keep their label).

    Defect instances become the 8-connected components of each defect class, numbered before the stains.
    """
    gt = gt or GroundTruth.empty(shape)
    names = dict(gt.class_names)
    if STAIN_CLASS in names.values():
        raise ValueError(f"the dataset already has a class {STAIN_CLASS!r}")
    stain_id = max(names, default=0) + 1
    names[stain_id] = STAIN_CLASS
    class_mask = gt.class_mask.astype(np.int32)
    instance_mask = np.zeros(shape, np.int32)
    next_id = 1
    for cid in np.unique(class_mask):
        if cid == 0:
            continue
        if gt.instance_mask is not None:
            labels = np.where(class_mask == cid, gt.instance_mask.astype(np.int32), 0)
        else:
            _, labels = cv2.connectedComponents((class_mask == cid).astype(np.uint8), connectivity=8,
                                                ltype=cv2.CV_32S)
        inside = labels > 0
        _, dense = np.unique(labels[inside], return_inverse=True)
        instance_mask[inside] = dense.reshape(-1) + next_id
        next_id = int(instance_mask.max()) + 1
    free = (stains > 0) & (class_mask == 0)
    class_mask[free] = stain_id
    instance_mask[free] = stains[free] + next_id
    return GroundTruth(class_mask, names, instance_mask, gt.roi)


class StainedDataset(Dataset):
    """``base`` with water stains painted on every image and annotated as the impurity ``water_stain``."""

    def __init__(self, base: Dataset, params: WaterStainParams = REAL_STAINS, seed: int = 0) -> None:
        if STAIN_CLASS in base.impurity_classes or STAIN_CLASS in base.defect_classes:
            raise ValueError(f"{base.description or 'the dataset'} already has a class {STAIN_CLASS!r}")
        super().__init__(base.entries, base.defect_classes, (*base.impurity_classes, STAIN_CLASS),
                         description=f"{base.description} with water stains (seed {seed})",
                         on_error=base.on_error, image_mode=base.image_mode)
        self.base, self.params, self.seed = base, params, seed

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        sample = self.base[index]
        image = sample.image
        params = self.params.with_(seed=name_seed(sample.name, self.seed))
        stained, stains = water_stains(image, params)
        shape = image.shape[:2]
        return Sample(sample.name, stained, sample.label,
                      lambda: stained_ground_truth(sample.gt, stains, shape))


def stain_examples(base: Dataset, stained: Dataset, path, count: int = 3) -> None:
    """A PNG of ``count`` images side by side: clean | stained | classes (red defect, cyan water stain)."""
    rows = []
    for k in np.unique(np.linspace(0, len(base) - 1, count).round().astype(int)):
        clean, sample = base[int(k)], stained[int(k)]
        gray = [cv2.cvtColor(x.image, cv2.COLOR_GRAY2BGR) if x.image.ndim == 2 else x.image for x in (clean, sample)]
        colours = np.zeros_like(gray[0])
        stain = sample.gt.class_mask == sample.gt.class_id(STAIN_CLASS)
        colours[(sample.gt.class_mask > 0) & ~stain] = (0, 0, 255)
        colours[stain] = (255, 255, 0)
        height = 200
        scaled = [cv2.resize(g, (max(1, round(g.shape[1] * height / g.shape[0])), height),
                             interpolation=cv2.INTER_NEAREST) for g in (*gray, colours)]
        gap = np.full((height, 4, 3), 255, np.uint8)
        rows.append(np.hstack([scaled[0], gap, scaled[1], gap, scaled[2]]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    if not cv2.imwrite(str(path), np.vstack(rows)):
        raise OSError(f"could not write {path}")
