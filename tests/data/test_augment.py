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


@pytest.mark.parametrize("max_fraction", [0.3, 0.6])
def test_black_mask_blacks_out_one_rectangle_of_bounded_size_anywhere(max_fraction):
    """The zeros (the image has none) form one rectangle 5 %..max_fraction of each side; the rest is kept."""
    image, mask = _image(), np.ones((24, 32), np.uint8)
    tops, bottoms, lefts, rights = set(), set(), set(), set()
    for seed in range(300):
        out, out_mask = Compose([BlackMask(max_fraction=max_fraction, p=1.0)], seed=seed)(image, mask)
        ys, xs = np.nonzero(out == 0)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        assert len(ys) == (y1 - y0) * (x1 - x0)  # a full rectangle
        assert int(24 * 0.05) <= y1 - y0 <= int(24 * max_fraction)
        assert int(32 * 0.05) <= x1 - x0 <= int(32 * max_fraction)
        kept = np.ones(image.shape, bool)
        kept[y0:y1, x0:x1] = False
        np.testing.assert_array_equal(out[kept], image[kept])
        assert out_mask is mask
        tops.add(y0), bottoms.add(y1), lefts.add(x0), rights.add(x1)
    assert 0 in tops and 24 in bottoms and 0 in lefts and 32 in rights  # it reaches every border


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
