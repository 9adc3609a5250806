"""Water stains on real images: the 'water_stain' impurity class, its instances, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.data import Dataset, Entry, GroundTruth
from seqcore.experiments.paper import image_order, subset
from seqcore.experiments.stained import STAIN_CLASS, StainedDataset, stained_ground_truth
from seqcore.synth.water_stains import stain_field


def _dataset(tmp_path, n: int = 3) -> Dataset:
    import cv2

    rng = np.random.default_rng(0)
    entries = []
    for k in range(n):
        path = tmp_path / f"img{k}.png"
        cv2.imwrite(str(path), rng.integers(60, 200, (120, 160), dtype=np.uint8))
        mask = np.zeros((120, 160), np.uint8)
        mask[40:60, 50:90] = 1  # one 'crack' per image
        mask[100:104, 10:14] = 1  # and a second, separate one
        entries.append(Entry(f"img{k}", path, "crack", lambda m=mask: GroundTruth(m, {1: "crack"})))
    return Dataset(entries, ["crack"])


def test_stains_are_impurity_instances_and_defects_keep_their_label(tmp_path) -> None:
    base = _dataset(tmp_path)
    stained = StainedDataset(base)
    assert stained.impurity_classes == (STAIN_CLASS,) and stained.defect_classes == ("crack",)
    for k in range(len(base)):
        clean, sample = base[k], stained[k]
        gt = sample.gt
        stain_id = gt.class_id(STAIN_CLASS)
        stain_px = gt.class_mask == stain_id
        changed = sample.image != clean.image
        assert changed.any() and stain_px.any()
        defect = clean.gt.class_mask == 1
        assert (gt.class_mask[defect] == gt.class_id("crack")).all()  # defects win over stains
        assert not (changed & ~(stain_px | defect)).any()  # the image changes only inside stains
        # two crack instances (8-connected components), then one id per stain, never shared across classes
        crack_ids = set(np.unique(gt.instance_mask[defect]).tolist())
        stain_ids = set(np.unique(gt.instance_mask[stain_px]).tolist())
        assert crack_ids == {1, 2} and not crack_ids & stain_ids and 0 not in stain_ids
    again = StainedDataset(base)[0]
    np.testing.assert_array_equal(again.image, stained[0].image)  # seeded by the image name


def test_stained_ground_truth_on_nominal_image_counts_each_stain() -> None:
    field, ids = stain_field((200, 200))
    gt = stained_ground_truth(None, ids, (200, 200))
    assert gt.class_names == {1: STAIN_CLASS}
    assert len(np.unique(gt.instance_mask[gt.instance_mask > 0])) == len(np.unique(ids[ids > 0]))
    with pytest.raises(ValueError, match="already has"):
        stained_ground_truth(gt, ids, (200, 200))


def test_image_orders_are_permutations_and_subsets_are_prefixes() -> None:
    items = list(range(20))
    np.testing.assert_array_equal(image_order(20, 0, 0), np.arange(20))
    for order in (1, 2):
        perm = image_order(20, order, 0)
        assert sorted(perm.tolist()) == items and not np.array_equal(perm, np.arange(20))
        assert subset(items, order, 0.3, 0) == [items[i] for i in perm[:6]]
    assert not np.array_equal(image_order(20, 1, 0), image_order(20, 2, 0))
    assert len(subset(items, 0, 0.01, 0)) == 1
