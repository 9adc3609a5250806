"""Perlin noise: hand-derived values for fixed tables, range, lattice zeros, continuity,
determinism, Numba == NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.synth.perlin import (
    fractal_noise2d,
    noise2,
    noise3,
    perlin2d,
    perlin2d_numpy,
    perlin3d,
    perlin3d_numpy,
)

RNG = np.random.default_rng(1234)
X, Y, Z = (RNG.uniform(-300.0, 300.0, 20_000) for _ in range(3))


IDENTITY = np.concatenate([np.arange(256), np.arange(256)]).astype(np.int64)


@pytest.mark.parametrize(
    ("x", "y", "want"),
    [
        # cell (0, 0): hashes 0, 1, 1, 2 -> gradients (1,1), (-1,1), (-1,1), (1,-1);
        # corner dots 1, 1, -1, 0 at fade(0.5) = 0.5 -> lerp(0.5, 1, -0.5) = 0.25
        (0.5, 0.5, 0.25),
        # u = fade(0.25) = 0.103515625; dots 0.75, 1.25, -0.75, -0.25
        # -> lerp(0.5, 0.75 + 0.5u, -0.75 + 0.5u) = 0.0517578125
        (0.25, 0.5, 0.0517578125),
        # cell (1, 2): a = 3, b = 4; hashes 3, 4, 4, 5 -> dots -1, -0.5, 0.5, 0.5 -> -0.125
        (1.5, 2.5, -0.125),
        # cell (5, 0): hashes 5, 6, 6, 7 (axis gradients -x, y, y, -y); dots -0.25, 0.5,
        # -0.5, 0.5 -> lerp(0.5, -0.25 + 0.75u, -0.5 + u) = -0.284423828125
        (5.25, 0.5, -0.284423828125),
        # negative coordinates wrap to cell (255, 255): a = 510, b = 255; hashes 254, 255,
        # 255, 0 -> dots 0.5, -0.5, 0.5, -1 -> lerp(0.5, 0, -0.25) = -0.125
        (-0.5, -0.5, -0.125),
    ],
)
def test_known_values_for_the_identity_table(x: float, y: float, want: float) -> None:
    """Improved Perlin noise evaluated by hand for perm[i] = i (values exact in binary)."""
    assert noise2(x, y, IDENTITY) == want


def test_known_values_3d_and_reversed_table() -> None:
    """noise3 at the centre of cell 0 (corner dots 1, 1, -1, 0, 0, -1, 1, 1 -> 0.25), and a
    reversed table perm[i] = 255 - i, which changes the hashes and so the value."""
    assert noise3(0.5, 0.5, 0.5, IDENTITY) == 0.25
    reversed_table = IDENTITY[::-1].copy()
    # cell (0, 0): a = perm[0] = 255, b = perm[1] = 254; hashes perm[255] = 0, perm[254] = 1,
    # perm[256] = 255, perm[255] = 0 -> gradients (1,1), (-1,1), -y, (1,1); dots 1, 1, 0.5, -1
    # -> lerp(0.5, 1, -0.25) = 0.375
    assert noise2(0.5, 0.5, reversed_table) == 0.375


def test_range_and_nontrivial() -> None:
    for values in (perlin2d(X, Y, seed=5), perlin3d(X, Y, Z, seed=5)):
        assert values.min() >= -1.0 and values.max() <= 1.0
        assert values.std() > 0.15  # not a constant or a tiny signal
        assert values.max() > 0.6 and values.min() < -0.6


def test_zero_on_integer_lattice() -> None:
    ix, iy, iz = (np.round(a) for a in (X[:500], Y[:500], Z[:500]))
    assert np.all(perlin2d(ix, iy, seed=2) == 0.0)
    assert np.all(perlin3d(ix, iy, iz, seed=2) == 0.0)


def test_continuous_with_bounded_gradient() -> None:
    eps = 1e-5
    direction = RNG.normal(size=(2, X.size))
    direction /= np.linalg.norm(direction, axis=0)
    step2 = perlin2d(X + eps * direction[0], Y + eps * direction[1], seed=9) - perlin2d(X, Y, seed=9)
    assert np.abs(step2).max() / eps < 4.0  # Lipschitz bound of the quintic-faded gradients
    step3 = perlin3d(X + eps, Y - eps, Z + eps, seed=9) - perlin3d(X, Y, Z, seed=9)
    assert np.abs(step3).max() / (eps * np.sqrt(3)) < 6.0


def test_seed_determinism() -> None:
    assert np.array_equal(perlin2d(X, Y, seed=3), perlin2d(X, Y, seed=3))
    assert not np.array_equal(perlin2d(X, Y, seed=3), perlin2d(X, Y, seed=4))
    assert np.array_equal(perlin3d(X, Y, Z, seed=3), perlin3d(X, Y, Z, seed=3))


def test_numba_equals_numpy() -> None:
    assert np.array_equal(perlin2d(X, Y, seed=11), perlin2d_numpy(X, Y, seed=11))
    assert np.array_equal(perlin3d(X, Y, Z, seed=11), perlin3d_numpy(X, Y, Z, seed=11))


def test_broadcasting_keeps_shape() -> None:
    grid = perlin2d(np.arange(7.0)[None, :] * 0.3, np.arange(5.0)[:, None] * 0.3)
    assert grid.shape == (5, 7) and grid.dtype == np.float64


def test_bad_coordinates_raise() -> None:
    with pytest.raises(ValueError, match="NaN"):
        perlin2d(np.array([0.5, np.nan]), 0.0)
    with pytest.raises(ValueError, match="numeric"):
        perlin2d(np.array(["a"]), 0.0)


def test_fractal_noise_is_anisotropic_along_the_brushing_direction() -> None:
    noise = fractal_noise2d((96, 128), scale=4.0, seed=1, octaves=3, stretch=12.0, angle_deg=0.0)
    assert noise.shape == (96, 128) and noise.dtype == np.float32
    assert np.abs(noise).max() <= 1.0
    along = np.corrcoef(noise[:, :-3].ravel(), noise[:, 3:].ravel())[0, 1]
    across = np.corrcoef(noise[:-3].ravel(), noise[3:].ravel())[0, 1]
    assert along > 0.9 > 0.5 > across
    with pytest.raises(ValueError):
        fractal_noise2d((0, 5), scale=4.0)
