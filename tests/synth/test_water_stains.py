"""Water stains (docs/design.md §6): exact masks, jittered centres, determinism, pairs, backends."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.synth.perlin import perlin2d
from seqcore.synth.water_stains import (
    WaterStainParams,
    apply_reflectance_change,
    jittered_centres,
    stain_field,
    water_stains,
)

SHAPE = (120, 160)
PARAMS = WaterStainParams(
    radius_mm=1.2, radius_spread_mm=0.4, frequency_per_mm=0.9, amplitude_mm=0.3, gamma=4.0,
    alpha=-0.3, cell_size_mm=2.5, probability=0.6, pixel_pitch_mm=0.05, seed=17,
)


def _independent_field(shape, params, centres, radii):
    """Algorithm 1 by brute force: nearest centre over ALL centres, r' = r + Perlin(p f) A."""
    h, w = shape
    y, x = np.meshgrid(np.arange(h) * params.pixel_pitch_mm, np.arange(w) * params.pixel_pitch_mm,
                       indexing="ij")
    dist = np.hypot(x[..., None] - centres[:, 0], y[..., None] - centres[:, 1])
    nearest = dist.argmin(axis=-1)
    d = dist.min(axis=-1)
    f = params.frequency_per_mm
    r_prime = radii[nearest] + perlin2d(x * f, y * f, params.noise_seed) * params.amplitude_mm
    inside = (r_prime > 0) & (d <= r_prime)
    field = np.where(inside, (d / np.where(inside, r_prime, 1.0)) ** params.gamma, 0.0)
    return inside, nearest, field


def test_mask_equals_recomputed_set_for_given_centres() -> None:
    centres = np.array([[2.0, 2.5], [5.1, 3.0], [6.0, 4.4]])
    radii = np.array([1.0, 1.4, 0.8])
    field, ids = stain_field(SHAPE, PARAMS, centres=centres, radii=radii)
    inside, nearest, expected = _independent_field(SHAPE, PARAMS, centres, radii)
    assert np.array_equal(ids > 0, inside)
    assert np.array_equal(ids[inside], nearest[inside] + 1)
    np.testing.assert_allclose(field, expected, atol=1e-6)
    assert inside.sum() > 500 and len(np.unique(ids)) == 4


def test_jittered_centres_one_per_cell_and_inside_it() -> None:
    table = jittered_centres(SHAPE, PARAMS)
    g = PARAMS.cell_size_mm
    ny, nx = table.radius.shape
    cell_y, cell_x = np.meshgrid(np.arange(ny) - 1, np.arange(nx) - 1, indexing="ij")
    assert table.centre_x.shape == table.centre_y.shape == (ny, nx)
    assert np.all((table.centre_x >= cell_x * g) & (table.centre_x < (cell_x + 1) * g))
    assert np.all((table.centre_y >= cell_y * g) & (table.centre_y < (cell_y + 1) * g))
    assert ny >= int((SHAPE[0] - 1) * PARAMS.pixel_pitch_mm / g) + 3
    radius = table.radius[table.present]
    assert np.all(np.abs(radius - PARAMS.radius_mm) <= PARAMS.radius_spread_mm)
    assert 0 < table.present.sum() < table.present.size  # probability 0.6 drops some cells


def test_jittered_mask_equals_brute_force_over_all_centres() -> None:
    table = jittered_centres(SHAPE, PARAMS)
    present = table.present
    centres = np.stack([table.centre_x[present], table.centre_y[present]], axis=1)
    field, ids = stain_field(SHAPE, PARAMS)
    inside, nearest, expected = _independent_field(SHAPE, PARAMS, centres, table.radius[present])
    assert np.array_equal(ids > 0, inside)
    np.testing.assert_allclose(field, expected, atol=1e-6)
    # one instance id per stain, numbered 1..n
    for k in np.unique(nearest[inside]):
        assert len(np.unique(ids[inside & (nearest == k)])) == 1
    assert np.array_equal(np.unique(ids), np.arange(ids.max() + 1))


def test_probability_controls_presence() -> None:
    assert stain_field(SHAPE, PARAMS.with_(probability=0.0))[1].max() == 0
    full = jittered_centres(SHAPE, PARAMS.with_(probability=1.0))
    assert full.present.all()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_same_seed_same_image_other_seed_other_image(backend: str) -> None:
    image = np.full(SHAPE, 140, dtype=np.uint8)
    a, ma = water_stains(image, PARAMS, backend=backend)
    b, mb = water_stains(image, PARAMS, backend=backend)
    c, _ = water_stains(image, PARAMS.with_(seed=18), backend=backend)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(a, c)


def test_numba_equals_numpy() -> None:
    fa, ia = stain_field(SHAPE, PARAMS, backend="numba")
    fb, ib = stain_field(SHAPE, PARAMS, backend="numpy")
    assert np.array_equal(ia, ib)
    np.testing.assert_allclose(fa, fb, rtol=1e-6, atol=1e-7)
    centres = np.array([[3.0, 3.0], [4.0, 2.0]])
    fa, ia = stain_field(SHAPE, PARAMS, centres=centres, backend="numba")
    fb, ib = stain_field(SHAPE, PARAMS, centres=centres, backend="numpy")
    assert np.array_equal(ia, ib)
    np.testing.assert_allclose(fa, fb, rtol=1e-6, atol=1e-7)


def test_pair_differs_only_inside_stain_mask_and_rim_is_darker() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(90, 200, size=SHAPE + (3,), dtype=np.uint8)  # RGB texture
    stained, ids = water_stains(image, PARAMS)
    changed = np.any(stained != image, axis=-1)
    assert changed.any()
    assert not changed[ids == 0].any()
    field, _ = stain_field(SHAPE, PARAMS)
    delta = stained.astype(int) - image.astype(int)
    inner, rim = (ids > 0) & (field < 0.05), (ids > 0) & (field > 0.6)
    assert np.abs(delta[inner]).mean() < 4 < -delta[rim].mean()  # centre ≈ plain, dark rim


def test_gray_float_and_uint16_images() -> None:
    gray = np.full(SHAPE, 0.5, dtype=np.float32)
    out, ids = water_stains(gray, PARAMS)
    assert out.dtype == np.float32 and out.shape == SHAPE
    assert out[ids > 0].min() >= 0.5 + PARAMS.alpha - 1e-6 and out[ids == 0].max() == 0.5
    wide, ids16 = water_stains(np.full(SHAPE, 40000, dtype=np.uint16), PARAMS)
    assert wide.dtype == np.uint16 and np.array_equal(ids16, ids)


# A field with zeros (untouched), small and large changes, and 1.0 (full rim change α).
FIELD = np.array([[0.0, 0.25, 0.5], [1.0, 0.1, 0.0]], dtype=np.float32)


@pytest.mark.parametrize("alpha", [-0.35, 0.6])
def test_reflectance_change_value_by_value_for_uint8_uint16_and_float(alpha: float) -> None:
    """R_out = R_in + field·α per pixel: integers as fractions of full scale, rounded to
    nearest, clipped to [0, 1] (full scale); pixels with field 0 are returned unchanged."""
    for dtype, full in ((np.uint8, 255), (np.uint16, 65535)):
        image = np.array([[0, 10, 200], [250, full, full]], dtype=dtype)
        out = apply_reflectance_change(image, FIELD, alpha)
        assert out.dtype == dtype
        for (i, j), r_in in np.ndenumerate(image):
            f = float(FIELD[i, j])
            want = r_in if f == 0 else min(max(round(int(r_in) + f * alpha * full), 0), full)
            assert out[i, j] == want, (dtype, i, j)
    image = np.array([[0.05, 0.2, 0.9], [0.5, 0.95, 1.5]], dtype=np.float32)  # 1.5: untouched
    out = apply_reflectance_change(image, FIELD, alpha)
    assert out.dtype == np.float32
    for (i, j), r_in in np.ndenumerate(image):
        f = float(FIELD[i, j])
        want = r_in if f == 0 else min(max(float(r_in) + f * alpha, 0.0), 1.0)
        assert out[i, j] == np.float32(want), (i, j)


def test_reflectance_change_known_values_and_colour() -> None:
    """Hand-computed pixels: 200 - 0.5·0.35·255 = 155.375 -> 155, 10 - 0.25·0.35·255 < 0 -> 0,
    the same change on each colour channel."""
    gray = np.array([[0, 10, 200], [250, 255, 255]], dtype=np.uint8)
    out = apply_reflectance_change(gray, FIELD, -0.35)
    assert out.tolist() == [[0, 0, 155], [161, 246, 255]]
    rgb = np.stack([gray, gray // 2, np.full_like(gray, 128)], axis=-1)
    out_rgb = apply_reflectance_change(rgb, FIELD, -0.35)
    assert out_rgb[..., 0].tolist() == out.tolist()
    assert out_rgb[0, 2].tolist() == [155, 55, 83]  # 100 - 44.625, 128 - 44.625, rounded
    bright = apply_reflectance_change(np.full((2, 3), 0.9, np.float32), FIELD, 0.6)
    np.testing.assert_array_equal(bright, np.float32([[0.9, 1.0, 1.0], [1.0, 0.96, 0.9]]))


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="cut by the 3x3"):
        stain_field(SHAPE, PARAMS.with_(cell_size_mm=1.0))
    with pytest.raises(ValueError, match="probability"):
        WaterStainParams(probability=1.5)
    with pytest.raises(ValueError, match="pixel_pitch_mm"):
        WaterStainParams(pixel_pitch_mm=0.0)
    with pytest.raises(ValueError, match="NaN"):
        water_stains(np.full(SHAPE, np.nan), PARAMS)
    with pytest.raises(ValueError, match="centres"):
        stain_field(SHAPE, PARAMS, centres=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        water_stains(np.zeros((2, 3, 4, 5)), PARAMS)
