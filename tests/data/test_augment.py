"""Augmentations: seeded, composable, masks follow geometric transforms."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.data.augment import BlackMask, Compose, Flip, Rotate90, Scale, default_augmentation, domain_randomization


def _image(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((24, 32)) * 200 + 40).astype(np.uint8)


def test_same_seed_same_stream():
    a, b = default_augmentation(seed=5), default_augmentation(seed=5)
    for _ in range(5):
        np.testing.assert_array_equal(a(_image())[0], b(_image())[0])
    a.reset()
    c = default_augmentation(seed=5)
    np.testing.assert_array_equal(a(_image())[0], c(_image())[0])


def test_default_augmentation_changes_images():
    aug = default_augmentation(seed=1)
    changed = sum(not np.array_equal(aug(_image())[0], _image()) for _ in range(10))
    assert changed >= 8


def test_masks_follow_geometric_transforms():
    image = _image()
    mask = np.zeros(image.shape, np.uint8)
    mask[2, 3] = 1
    for transform in (Flip(axis=0, p=1.0), Flip(axis=1, p=1.0), Rotate90(p=1.0)):
        out, out_mask = Compose([transform], seed=0)(image, mask)
        assert out.shape == out_mask.shape and out_mask.sum() == 1
        y, x = np.argwhere(out_mask)[0]
        assert out[y, x] == image[2, 3]
    out, out_mask = Compose([Scale(2.0, p=1.0)], seed=0)(image, mask)
    assert out.shape == (48, 64) and out_mask.shape == (48, 64)
    assert np.argwhere(out_mask).tolist() == [[4, 6], [4, 7], [5, 6], [5, 7]]


def test_black_mask_blacks_out_a_region():
    out, _ = Compose([BlackMask(p=1.0)], seed=0)(_image())
    assert (out == 0).sum() >= 1 and (_image() == 0).sum() == 0


def test_domain_randomization_and_dtype_check():
    out, _ = domain_randomization(seed=0)(_image())
    assert out.dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        default_augmentation()(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize(
    "make", [lambda: Flip(axis=0, p=1.5), lambda: Rotate90(p=-0.1), lambda: BlackMask(p=float("nan"))]
)
def test_probability_outside_unit_interval_is_refused(make) -> None:
    with pytest.raises(ValueError, match="p must lie in"):
        make()


def test_probability_zero_leaves_the_image_untouched() -> None:
    image = _image()
    out, _ = Compose([Flip(axis=1, p=0.0), Rotate90(p=0.0), Scale(2.0, p=0.0)], seed=0)(image)
    np.testing.assert_array_equal(out, image)
