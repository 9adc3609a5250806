"""Patch features: shapes, grayscale handling, batching, projection, tiling and bad inputs.

Most tests state the pre-issue-14 settings (native resolution, mirrored border 8, the backbone's
normalisation, pooling over real cells) through ``cfg``; the new defaults are tested at the end.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqcore.features import FeatureConfig, FeatureExtractor, cell_means

OLD = dict(resize_short_side=None, border_pad=8, normalization="backbone", pool_count_pad=False)


def cfg(**changes) -> FeatureConfig:
    """A FeatureConfig with the settings these tests were written for, plus ``changes``."""
    return FeatureConfig(**{**OLD, **changes})


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(cfg())


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((h, w)) * 255).astype(np.uint8)


def test_feature_grid_covers_odd_sized_images(extractor):
    feats = extractor.extract(_texture(37, 53))
    assert feats.shape == (5, 7, 152)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()


def test_gray_equals_replicated_rgb(extractor):
    gray = _texture(40, 48)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(extractor.extract(gray), extractor.extract(rgb))


def test_batched_equals_single(extractor):
    images = [_texture(48, 64, seed) for seed in range(3)] + [_texture(40, 40, 9)]
    many = extractor.extract_many(images, batch_size=3)
    for image, feats in zip(images, many, strict=False):
        np.testing.assert_allclose(feats, extractor.extract(image), rtol=1e-4, atol=1e-4)


def test_random_projection_is_seeded_and_reduces_dimension():
    a = FeatureExtractor(cfg(projection_dim=32, projection_seed=3))
    b = FeatureExtractor(cfg(projection_dim=32, projection_seed=3))
    assert a.dim == 32
    np.testing.assert_array_equal(a.projection, b.projection)
    image = _texture(32, 32)
    np.testing.assert_array_equal(a.extract(image), b.extract(image))
    with pytest.raises(ValueError, match="projection matrix has shape"):
        FeatureExtractor(cfg(projection_dim=32), projection=np.zeros((10, 32), np.float32))


def test_resize_short_side_changes_the_grid():
    ex = FeatureExtractor(cfg(resize_short_side=64))
    assert ex.extract(_texture(32, 48)).shape[:2] == (8, 12)


def _one_pass(ex: FeatureExtractor, prepared: np.ndarray) -> np.ndarray:
    """Features (gh, gw, d) of a prepared image in one backbone pass, bypassing the tiling code."""
    return ex.forward_batch(prepared[None])[0].permute(1, 2, 0).numpy()


def _owned_cells(ex: FeatureExtractor, height: int, width: int) -> list[tuple[slice, slice, slice, slice]]:
    """Per tile box: (grid rows, grid columns) it owns and the same cells within the tile's own grid."""
    s = ex.stride
    cells = []
    for y0, _, x0, _, cy0, cy1, cx0, cx1 in ex._tile_boxes(height, width):
        rows, cols = -(-(cy1 - cy0) // s), -(-(cx1 - cx0) // s)
        ty, tx = (cy0 - y0) // s, (cx0 - x0) // s
        cells.append((slice(cy0 // s, cy0 // s + rows), slice(cx0 // s, cx0 // s + cols),
                      slice(ty, ty + rows), slice(tx, tx + cols)))
    return cells


def test_tiles_stitch_exactly_from_untiled_crops():
    """Oracle: one backbone pass over each tile's crop, its owned cells copied into place."""
    image = _texture(200, 264)
    tiled = FeatureExtractor(cfg(tile_size=128, tile_overlap=32))
    prepared = tiled.prepare(image)
    boxes = tiled._tile_boxes(*prepared.shape[:2])
    assert len(boxes) == 20  # 4 x 5 cores of 64 pixels, the last column 8 pixels wide
    expected = np.full((25, 33, 152), np.nan, np.float32)
    for (y0, y1, x0, x1, *_), (gy, gx, ty, tx) in zip(boxes, _owned_cells(tiled, *prepared.shape[:2]), strict=False):
        expected[gy, gx] = _one_pass(tiled, prepared[y0:y1, x0:x1])[ty, tx]
    owners = np.zeros((25, 33), int)
    stitched = np.full_like(expected, np.nan)
    for tile in tiled.iter_tiles(prepared):
        h, w = tile.shape
        owners[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w] += 1
        stitched[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w] = tile.features
    assert (owners == 1).all()
    np.testing.assert_array_equal(stitched, expected)
    np.testing.assert_array_equal(tiled.extract(image), expected)


@pytest.mark.parametrize("height, width", [(64, 64), (129, 64), (200, 264), (257, 511), (1000, 72)])
@pytest.mark.parametrize("tile, overlap", [(128, 32), (96, 16), (64, 0), (1024, 128)])
def test_every_grid_cell_is_owned_by_exactly_one_tile(height, width, tile, overlap):
    ex = FeatureExtractor.__new__(FeatureExtractor)  # geometry only: no backbone needed
    ex.config, ex.stride = cfg(tile_size=tile, tile_overlap=overlap, pretrained=False), 8
    owners = np.zeros((-(-height // 8), -(-width // 8)), int)
    for (y0, y1, x0, x1, cy0, cy1, cx0, cx1), (gy, gx, _, _) in zip(
        ex._tile_boxes(height, width), _owned_cells(ex, height, width), strict=False
    ):
        assert y1 - y0 <= tile and x1 - x0 <= tile
        assert y0 == max(0, cy0 - overlap) and y1 == min(height, cy1 + overlap)  # context on every side
        assert x0 == max(0, cx0 - overlap) and x1 == min(width, cx1 + overlap)
        owners[gy, gx] += 1
    assert (owners == 1).all()


def test_default_tiling_seams_stay_small_and_local():
    """1024/128 tiles vs one pass: worst cell 0.49 % of the largest value here (0.75 % over seeds 0-3);
    cells 12 or more from a seam are bit-identical."""
    image = _texture(1040, 800)
    tiled = FeatureExtractor(cfg())
    assert len(tiled._tile_boxes(1040, 800)) == 4
    stitched = tiled.extract(image)
    whole = _one_pass(tiled, tiled.prepare(image))
    error = np.abs(stitched - whole).max(axis=2) / np.abs(whole).max()
    assert error.max() < 0.008
    seam = (1024 - 2 * 128) // 8  # the cores meet at grid row and column 96
    rows, cols = np.mgrid[: error.shape[0], : error.shape[1]]
    far = (np.abs(rows - seam) >= 12) & (np.abs(cols - seam) >= 12)
    assert (error[far] == 0).all()


def test_images_within_one_tile_are_not_tiled(extractor):
    image = _texture(200, 264)
    untiled = FeatureExtractor(cfg(tile_size=512, tile_overlap=32))
    assert len(untiled._tile_boxes(200, 264)) == 1
    np.testing.assert_array_equal(untiled.extract(image), _one_pass(extractor, extractor.prepare(image)))


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 8, 2), np.uint8), "shape"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((8, 8), np.int64), "dtype"),
        (np.full((8, 8), 2.0, np.float32), r"\[0, 1\]"),
    ],
)
def test_bad_images_are_rejected(extractor, image, message):
    with pytest.raises(ValueError, match=message):
        extractor.extract(image)


def test_cell_means_handles_partial_edge_cells():
    plane = np.arange(12, dtype=np.float32).reshape(3, 4)
    means = cell_means(plane, 2)
    np.testing.assert_allclose(means, [[2.5, 4.5], [8.5, 10.5]])


def test_bad_config_values():
    with pytest.raises(ValueError, match="tile_size"):
        cfg(tile_size=100)
    with pytest.raises(ValueError, match="pool_kernel"):
        cfg(pool_kernel=0)


def test_border_pad_equals_extracting_the_mirrored_image():
    image = _texture(64, 80)
    padded = np.pad(image, 16, mode="reflect")
    plain = FeatureExtractor(cfg(border_pad=0)).extract(padded)
    mirrored = FeatureExtractor(cfg(border_pad=16)).extract(image)
    assert mirrored.shape == (8, 10, 152)
    np.testing.assert_allclose(mirrored, plain[2:10, 2:12], rtol=1e-4, atol=1e-4)


def test_border_pad_quiets_the_borders_of_a_uniform_image():
    """Zero padding makes border patches of a flat surface look unlike its centre; mirrored context less so."""
    flat = np.full((128, 128), 90, np.uint8)
    ring = {}
    for pad in (0, 8, 32):
        feats = FeatureExtractor(cfg(border_pad=pad)).extract(flat)
        centre = feats[6:10, 6:10].reshape(-1, feats.shape[2]).mean(axis=0)
        ring[pad] = np.linalg.norm(feats[0] - centre, axis=1).mean()
    assert ring[0] > ring[8] > ring[32]
    assert ring[32] < 0.5 * ring[0]


def test_border_pad_is_checked_and_absent_in_old_files():
    with pytest.raises(ValueError, match="border_pad"):
        cfg(border_pad=-8)
    with pytest.raises(ValueError, match="multiple of the feature stride"):
        FeatureExtractor(cfg(border_pad=12))
    old = cfg().to_dict()
    del old["border_pad"]
    assert FeatureConfig.from_dict(old).border_pad == 0
    assert FeatureConfig.from_dict(cfg().to_dict()).border_pad == 8


def test_images_smaller_than_the_border_pad_still_extract(extractor):
    feats = extractor.extract(_texture(5, 7))
    assert feats.shape == (1, 1, 152) and np.isfinite(feats).all()


def test_compatibility_key_includes_the_tiling():
    """Tiles of different sizes give different border features, so tilings must not be melded."""
    default = cfg().compatibility_key()
    for other, fields in ((cfg(tile_size=512), {"tile_size"}),
                          (cfg(tile_overlap=64), {"tile_overlap"}),
                          (cfg(tile_size=None), {"tile_size", "tile_overlap"})):
        key = other.compatibility_key()
        assert {k for k in default if key.get(k) != default[k]} == fields
    assert cfg(tile_size=None, tile_overlap=0).compatibility_key() == cfg(
        tile_size=None).compatibility_key()  # the overlap has no effect without tiling


def test_imagenet_normalization_equals_remapping_the_pixels():
    """(x - m) / s for ImageNet (m, s) is the backbone's (x' - 0.5) / 0.5 of x' = 0.5 + 0.5 (x - m) / s."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    rng = np.random.default_rng(4)
    image = (0.3 + 0.3 * rng.random((48, 64, 3))).astype(np.float32)  # remapped pixels stay in [0, 1]
    remapped = (0.5 + 0.5 * (image - mean) / std).astype(np.float32)
    imagenet = FeatureExtractor(cfg(normalization="imagenet")).extract(image)
    backbone = FeatureExtractor(cfg()).extract(remapped)
    np.testing.assert_allclose(imagenet, backbone, rtol=1e-4, atol=1e-4)
    assert np.abs(imagenet - FeatureExtractor(cfg()).extract(image)).max() > 0.1


def test_normalization_is_checked_and_absent_from_default_files():
    with pytest.raises(ValueError, match="normalization"):
        cfg(normalization="zscore")
    assert "normalization" not in cfg().to_dict()  # model files and keys stay as before
    config = cfg(normalization="imagenet")
    assert config.to_dict()["normalization"] == "imagenet"
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert config.compatibility_key() != cfg().compatibility_key()


def test_defaults_are_the_issue_14_choice_and_old_files_keep_theirs():
    config = FeatureConfig()
    assert (config.normalization, config.resize_short_side, config.border_pad, config.pool_count_pad) == (
        "imagenet", 256, 0, True)
    stored = config.to_dict()
    assert stored["normalization"] == "imagenet" and stored["pool_count_pad"] is True
    assert FeatureConfig.from_dict(stored) == config
    old = {k: v for k, v in stored.items() if k not in ("normalization", "pool_count_pad")}
    read = FeatureConfig.from_dict(old)
    assert read.normalization == "backbone" and read.pool_count_pad is False
    assert "pool_count_pad" not in cfg().to_dict()  # older configs write the keys they always wrote


def test_zero_counting_pooling_equals_torch_avgpool():
    """pool_count_pad=True pools like torch.nn.AvgPool2d(3, 1, 1) on the raw levels (anomalib)."""
    ex = FeatureExtractor(cfg(border_pad=0, pool_count_pad=True))
    prepared = ex.prepare(_texture(64, 96))
    levels = ex.backbone_levels(prepared[None])
    pool = torch.nn.AvgPool2d(3, 1, 1)
    pooled = [pool(levels[0]), torch.nn.functional.interpolate(pool(levels[1]), size=levels[0].shape[2:],
                                                               mode="bilinear", align_corners=False)]
    expected = torch.cat(pooled, dim=1)[0].permute(1, 2, 0).numpy()
    got = ex.extract(_texture(64, 96))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    real_cells = FeatureExtractor(cfg(border_pad=0)).extract(_texture(64, 96))
    inner = (slice(1, -1), slice(1, -1), slice(0, 40))  # level blocks.2 (40 channels) away from the border
    np.testing.assert_allclose(real_cells[inner], got[inner], rtol=1e-5, atol=1e-5)
    assert np.abs(real_cells[0] - got[0]).max() > 1e-3  # the border cells differ


def test_several_pool_kernels_from_one_pass_equal_separate_extractors():
    image = _texture(56, 72, 3)
    ex = FeatureExtractor(FeatureConfig(resize_short_side=None))
    three, one = ex.extract(image, kernels=(3, 1))
    np.testing.assert_allclose(three, ex.extract(image), rtol=1e-5, atol=1e-5)
    alone = FeatureExtractor(FeatureConfig(resize_short_side=None, pool_kernel=1)).extract(image)
    np.testing.assert_allclose(one, alone, rtol=1e-5, atol=1e-5)
