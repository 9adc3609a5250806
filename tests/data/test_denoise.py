"""NLM denoising: lowers the noise of a flat image, keeps an edge, leaves annotations alone; clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seqcore.data import open_dataset
from seqcore.data.denoise import DenoisedDataset, nlm_denoise


def _noisy(seed: int = 0) -> np.ndarray:
    clean = np.full((64, 64), 80.0)
    clean[:, 32:] = 180.0
    noise = np.random.default_rng(seed).normal(0, 12, clean.shape)
    return clean, np.clip(clean + noise, 0, 255).astype(np.uint8)


def test_nlm_reduces_noise_and_keeps_the_edge():
    clean, noisy = _noisy()
    out = nlm_denoise(noisy, h=15)
    assert np.abs(out - clean).mean() < 0.5 * np.abs(noisy - clean).mean()
    assert out[:, 28].mean() < 100 and out[:, 36].mean() > 160
    rgb = nlm_denoise(np.repeat(noisy[..., None], 3, axis=2), h=15)
    assert rgb.shape == (64, 64, 3) and np.abs(rgb[..., 0] - clean).mean() < np.abs(noisy - clean).mean()


def test_errors():
    with pytest.raises(ValueError, match="uint8"):
        nlm_denoise(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="h > 0"):
        nlm_denoise(np.zeros((8, 8), np.uint8), h=0)


def test_dataset_wrapper(tmp_path):
    root = tmp_path / "plate"
    (root / "test" / "crack").mkdir(parents=True)
    (root / "ground_truth" / "crack").mkdir(parents=True)
    Image.fromarray(_noisy()[1]).save(root / "test" / "crack" / "a.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[5:9, 5:9] = 255
    Image.fromarray(mask).save(root / "ground_truth" / "crack" / "a_mask.png")
    base = open_dataset("mvtec", root, "test")
    sample = next(iter(DenoisedDataset(base, 15)))
    np.testing.assert_array_equal(sample.image, nlm_denoise(next(iter(base)).image, 15))
    assert sample.gt.class_mask[5:9, 5:9].all() and sample.gt.class_mask.sum() == 16
