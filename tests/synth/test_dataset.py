"""Dual dataset writer and SyntheticDataset reader: layout, pairs, round trip, errors."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from seqcore.data import SyntheticDataset
from seqcore.synth.dataset import DatasetConfig, variant_names, write_dual_dataset
from seqcore.synth.surface import CLASS_IDS, DEFECT_CLASSES
from seqcore.synth.water_stains import WaterStainParams, stain_field

CONFIG = DatasetConfig(n_train=2, n_val=2, n_test=2, height=64, width=80, pixel_pitch_mm=0.05,
                       seed=4, defective_fraction=1.0, stains=WaterStainParams(
                           radius_mm=0.6, radius_spread_mm=0.2, amplitude_mm=0.15,
                           cell_size_mm=1.5, probability=0.8))
DEFECT_IDS = [CLASS_IDS[c] for c in DEFECT_CLASSES]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_dual_dataset(out, CONFIG, progress=False)
    return out


def test_layout(root: Path) -> None:
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(variant_names(True))
    summary = json.loads((root / "dataset.json").read_text())
    assert summary["counts"]["Synth"]["test"] == {"images": 2, "defective": 2}
    for variant in variant_names(True):
        classes = json.loads((root / variant / "classes.json").read_text())
        assert classes["ids"] == CLASS_IDS and classes["impurities"][0] == "water_stain"
        for split in ("train", "val", "test"):
            mask = cv2.imread(str(root / variant / split / "masks" / f"{split}_0000.png"),
                              cv2.IMREAD_UNCHANGED)
            assert mask.dtype == np.uint16 and mask.shape == (64, 80)


def test_reader_round_trip(root: Path) -> None:
    ds = SyntheticDataset(root, "Synth_WS", "val")
    assert len(ds) == 2 and ds.names == ["val_0000", "val_0001"]
    sample = ds[0]
    png = cv2.imread(str(root / "Synth_WS" / "val" / "images" / "val_0000.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(sample.image, png) and sample.image.dtype == np.uint8
    mask = cv2.imread(str(root / "Synth_WS" / "val" / "masks" / "val_0000.png"), cv2.IMREAD_UNCHANGED)
    gt = sample.gt
    assert np.array_equal(gt.class_mask * 1000 + gt.instance_mask, mask)
    assert gt.class_names[CLASS_IDS["water_stain"]] == "water_stain"
    assert gt.roi is not None and not gt.roi[0].any() and gt.roi[32, 40]
    assert sample.label != "good" and set(sample.label.split("+")) <= set(DEFECT_CLASSES)
    assert [s.name for s in ds] == ds.names and ds[-1].name == "val_0001"


def test_train_is_nominal_and_val_test_hold_defects(root: Path) -> None:
    for variant in ("Synth", "Synth_WS"):
        for sample in SyntheticDataset(root, variant, "train"):
            assert not np.isin(sample.gt.class_mask, DEFECT_IDS).any() and sample.label == "good"
        for split in ("val", "test"):
            assert all(np.isin(s.gt.class_mask, DEFECT_IDS).any() for s in SyntheticDataset(root, variant, split))
    stains = [np.any(s.gt.class_mask == CLASS_IDS["water_stain"]) for s in SyntheticDataset(root, "Synth_WS", "train")]
    assert any(stains)


@pytest.mark.parametrize("split", ["train", "test"])
def test_pairs_share_everything_but_the_stains(root: Path, split: str) -> None:
    clean, stained = SyntheticDataset(root, "Synth", split), SyntheticDataset(root, "Synth_WS", split)
    for k in range(len(clean)):
        a, b = clean[k], stained[k]
        pa, pb = clean.params(k), stained.params(k)
        assert pa.pop("variant") == "Synth" and pb.pop("variant") == "Synth_WS"
        assert pa.pop("with_water_stains") is False and pb.pop("with_water_stains") is True
        assert pa == pb  # same seeds, texture, defects, light, camera
        _, ids = stain_field(a.image.shape, WaterStainParams(**pb["water_stains"]))
        differs = a.image != b.image
        assert not differs[ids == 0].any()
        assert np.array_equal(np.isin(a.gt.class_mask, DEFECT_IDS), np.isin(b.gt.class_mask, DEFECT_IDS))


def test_light_variants_share_masks(root: Path) -> None:
    base = SyntheticDataset(root, "Synth_WS", "test")
    for suffix in ("rot90", "scale2"):
        other = SyntheticDataset(root, f"Synth_WS_{suffix}", "test")
        assert np.array_equal(other[0].gt.class_mask, base[0].gt.class_mask)
        assert not np.array_equal(other[0].image, base[0].image)


def test_reader_and_writer_errors(root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no variant"):
        SyntheticDataset(root, "nope", "train")
    with pytest.raises(FileNotFoundError, match="no split"):
        SyntheticDataset(root, "Synth", "holdout")
    with pytest.raises(FileExistsError):
        write_dual_dataset(root, CONFIG, progress=False)
    broken = tmp_path / "broken"
    write_dual_dataset(broken, DatasetConfig(n_train=1, n_val=0, n_test=0, height=32, width=32,
                                             light_variants=False), progress=False)
    (broken / "Synth" / "train" / "masks" / "train_0000.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="corrupt"):
        SyntheticDataset(broken, "Synth", "train")[0]
    (broken / "Synth" / "train" / "masks" / "train_0000.png").unlink()
    with pytest.raises(FileNotFoundError, match="mask .*train_0000.png: file not found"):
        SyntheticDataset(broken, "Synth", "train")[0]


def test_cli_synth(tmp_path: Path, capsys) -> None:
    from seqcore.cli import main

    out = tmp_path / "cli"
    assert main(["synth", str(out), "--train", "1", "--val", "1", "--test", "0", "--size", "32", "40",
                 "--no-light-variants"]) == 0
    assert len(SyntheticDataset(out, "Synth_WS", "val")) == 1
    assert not (out / "Synth_rot90").exists()
    assert main(["synth"]) == 2
    assert "give an output folder" in capsys.readouterr().err


def test_entries_load_the_same_ground_truth_as_samples(root: Path) -> None:
    ds = SyntheticDataset(root, "Synth_WS", "test")
    assert ds.names == [e.name for e in ds.entries] and ds.defect_classes == tuple(DEFECT_CLASSES)
    for entry, sample in zip(ds.entries, ds, strict=True):
        gt = entry.ground_truth()
        assert np.array_equal(gt.class_mask, sample.gt.class_mask)
        assert np.array_equal(gt.instance_mask, sample.gt.instance_mask)
