"""Coreset capacity from a fraction of the training patches: counted against the grid shapes, and via the CLI."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seqcore.features import FeatureConfig
from seqcore.models.patchcore.capacity import capacity_from_fraction, patch_count


def test_patch_count_follows_resizing():
    images = [np.zeros((50, 70), np.uint8), np.zeros((64, 64, 3), np.uint8)]
    assert patch_count(images, FeatureConfig(resize_short_side=None), 8) == 7 * 9 + 8 * 8
    # short side 32: 50x70 -> 32x45 (4x6 cells), 64x64 -> 32x32 (4x4)
    assert patch_count(images, FeatureConfig(resize_short_side=32), 8) == 4 * 6 + 4 * 4
    assert patch_count(images, FeatureConfig(resize_shape=(24, 40)), 8) == 2 * 3 * 5


def test_capacity_from_fraction():
    assert capacity_from_fraction(0.1, 1000) == 100 and capacity_from_fraction(1e-6, 10) == 1
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            capacity_from_fraction(bad, 10)


def test_cli_capacity_fraction(tmp_path, capsys):
    from seqcore.cli import main
    from seqcore.models.patchcore import SequentialPatchCore

    for k in range(2):
        image = np.random.default_rng(k).integers(0, 255, (32, 32)).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / f"{k}.png")
    out = tmp_path / "m.safetensors"
    assert main(["train", str(tmp_path), "--out", str(out), "--capacity-fraction", "0.25", "--resize", "0",
                 "--epochs", "1", "--scales", "3"]) == 0
    assert "coreset capacity 8 " in capsys.readouterr().out  # 2 images x 16 patches x 0.25
    assert SequentialPatchCore.load(out).capacity == 8
