"""Improved Perlin gradient noise (Perlin 2002) in 2D and 3D, seeded, Numba-parallel.

Values are continuous (C2 fade curve), zero on the integer lattice and lie in [-1, 1].
The seed picks the permutation table, so equal seeds give bit-identical noise. Plain
NumPy versions of the same formulas are kept as test oracle and benchmark baseline.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "permutation_table",
    "perlin2d",
    "perlin3d",
    "perlin2d_numpy",
    "perlin3d_numpy",
    "fractal_noise2d",
]

# 2D gradient directions: the four diagonals and the four axes (hash & 7 picks one).
_GRAD2 = np.array(
    [[1, 1], [-1, 1], [1, -1], [-1, -1], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float64
)


def permutation_table(seed: int) -> np.ndarray:
    """Seeded permutation of 0..255, repeated twice (512 int64) so lookups never wrap."""
    perm = np.random.default_rng(int(seed)).permutation(256).astype(np.int64)
    return np.concatenate([perm, perm])


@njit(cache=True, inline="always")
def _fade(t: float) -> float:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@njit(cache=True, inline="always")
def _lerp(t: float, a: float, b: float) -> float:
    return a + t * (b - a)


@njit(cache=True, inline="always")
def _grad2(h: int, x: float, y: float) -> float:
    h = h & 7
    if h < 4:
        u = x if (h & 1) == 0 else -x
        v = y if (h & 2) == 0 else -y
        return u + v
    if h == 4:
        return x
    if h == 5:
        return -x
    if h == 6:
        return y
    return -y


@njit(cache=True, inline="always")
def _grad3(h: int, x: float, y: float, z: float) -> float:
    h = h & 15
    u = x if h < 8 else y
    if h < 4:
        v = y
    elif h == 12 or h == 14:
        v = x
    else:
        v = z
    return (u if (h & 1) == 0 else -u) + (v if (h & 2) == 0 else -v)


@njit(cache=True)
def noise2(x: float, y: float, perm: np.ndarray) -> float:
    """Improved Perlin noise at one 2D point (Numba scalar kernel, reused by other kernels)."""
    fx = np.floor(x)
    fy = np.floor(y)
    xi = int(fx) & 255
    yi = int(fy) & 255
    x -= fx
    y -= fy
    u = _fade(x)
    v = _fade(y)
    a = perm[xi] + yi
    b = perm[xi + 1] + yi
    n00 = _grad2(perm[a], x, y)
    n10 = _grad2(perm[b], x - 1.0, y)
    n01 = _grad2(perm[a + 1], x, y - 1.0)
    n11 = _grad2(perm[b + 1], x - 1.0, y - 1.0)
    value = _lerp(v, _lerp(u, n00, n10), _lerp(u, n01, n11))
    return min(1.0, max(-1.0, value))


@njit(cache=True)
def noise3(x: float, y: float, z: float, perm: np.ndarray) -> float:
    """Improved Perlin noise at one 3D point (Numba scalar kernel)."""
    fx = np.floor(x)
    fy = np.floor(y)
    fz = np.floor(z)
    xi = int(fx) & 255
    yi = int(fy) & 255
    zi = int(fz) & 255
    x -= fx
    y -= fy
    z -= fz
    u = _fade(x)
    v = _fade(y)
    w = _fade(z)
    a = perm[xi] + yi
    aa = perm[a] + zi
    ab = perm[a + 1] + zi
    b = perm[xi + 1] + yi
    ba = perm[b] + zi
    bb = perm[b + 1] + zi
    x0 = _lerp(u, _grad3(perm[aa], x, y, z), _grad3(perm[ba], x - 1.0, y, z))
    x1 = _lerp(u, _grad3(perm[ab], x, y - 1.0, z), _grad3(perm[bb], x - 1.0, y - 1.0, z))
    x2 = _lerp(u, _grad3(perm[aa + 1], x, y, z - 1.0), _grad3(perm[ba + 1], x - 1.0, y, z - 1.0))
    x3 = _lerp(
        u, _grad3(perm[ab + 1], x, y - 1.0, z - 1.0), _grad3(perm[bb + 1], x - 1.0, y - 1.0, z - 1.0)
    )
    value = _lerp(w, _lerp(v, x0, x1), _lerp(v, x2, x3))
    return min(1.0, max(-1.0, value))


@njit(parallel=True, cache=True)
def _noise2_points(xs: np.ndarray, ys: np.ndarray, perm: np.ndarray, out: np.ndarray) -> None:
    for i in prange(xs.shape[0]):
        out[i] = noise2(xs[i], ys[i], perm)


@njit(parallel=True, cache=True)
def _noise3_points(
    xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, perm: np.ndarray, out: np.ndarray
) -> None:
    for i in prange(xs.shape[0]):
        out[i] = noise3(xs[i], ys[i], zs[i], perm)


def _as_coordinates(*arrays: np.ndarray | float) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast coordinate arrays to one shape and flatten them as contiguous float64."""
    coords = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    for c in coords:
        if c.dtype.kind not in "fiu":
            raise ValueError(f"Perlin coordinates must be numeric, got dtype {c.dtype}")
    flat = [np.ascontiguousarray(c, dtype=np.float64).ravel() for c in coords]
    if any(not np.isfinite(c).all() for c in flat):
        raise ValueError("Perlin coordinates contain NaN or inf")
    return coords[0].shape, flat


def perlin2d(x: np.ndarray | float, y: np.ndarray | float, seed: int = 0) -> np.ndarray:
    """2D improved Perlin noise at points (x, y) (broadcast), float64 in [-1, 1]."""
    shape, (xs, ys) = _as_coordinates(x, y)
    out = np.empty(xs.shape[0], dtype=np.float64)
    _noise2_points(xs, ys, permutation_table(seed), out)
    return out.reshape(shape)


def perlin3d(
    x: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float, seed: int = 0
) -> np.ndarray:
    """3D improved Perlin noise at points (x, y, z) (broadcast), float64 in [-1, 1]."""
    shape, (xs, ys, zs) = _as_coordinates(x, y, z)
    out = np.empty(xs.shape[0], dtype=np.float64)
    _noise3_points(xs, ys, zs, permutation_table(seed), out)
    return out.reshape(shape)


def _fade_np(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def _lerp_np(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + t * (b - a)


def _grad2_np(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    g = _GRAD2[h & 7]
    # (±x) + (±y), or ±x + 0: bit-identical to the branches of the Numba kernel
    return g[..., 0] * x + g[..., 1] * y


def _grad3_np(h: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    h = h & 15
    u = np.where(h < 8, x, y)
    v = np.where(h < 4, y, np.where((h == 12) | (h == 14), x, z))
    return np.where((h & 1) == 0, u, -u) + np.where((h & 2) == 0, v, -v)


def perlin2d_numpy(x: np.ndarray | float, y: np.ndarray | float, seed: int = 0) -> np.ndarray:
    """Plain NumPy 2D Perlin noise, identical formulas to :func:`perlin2d` (oracle/baseline)."""
    shape, (xs, ys) = _as_coordinates(x, y)
    perm = permutation_table(seed)
    fx, fy = np.floor(xs), np.floor(ys)
    xi, yi = fx.astype(np.int64) & 255, fy.astype(np.int64) & 255
    xs, ys = xs - fx, ys - fy
    u, v = _fade_np(xs), _fade_np(ys)
    a = perm[xi] + yi
    b = perm[xi + 1] + yi
    n00 = _grad2_np(perm[a], xs, ys)
    n10 = _grad2_np(perm[b], xs - 1.0, ys)
    n01 = _grad2_np(perm[a + 1], xs, ys - 1.0)
    n11 = _grad2_np(perm[b + 1], xs - 1.0, ys - 1.0)
    value = _lerp_np(v, _lerp_np(u, n00, n10), _lerp_np(u, n01, n11))
    return np.clip(value, -1.0, 1.0).reshape(shape)


def perlin3d_numpy(
    x: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float, seed: int = 0
) -> np.ndarray:
    """Plain NumPy 3D Perlin noise, identical formulas to :func:`perlin3d` (oracle/baseline)."""
    shape, (xs, ys, zs) = _as_coordinates(x, y, z)
    perm = permutation_table(seed)
    fx, fy, fz = np.floor(xs), np.floor(ys), np.floor(zs)
    xi, yi, zi = (f.astype(np.int64) & 255 for f in (fx, fy, fz))
    x, y, z = xs - fx, ys - fy, zs - fz
    u, v, w = _fade_np(x), _fade_np(y), _fade_np(z)
    a = perm[xi] + yi
    aa, ab = perm[a] + zi, perm[a + 1] + zi
    b = perm[xi + 1] + yi
    ba, bb = perm[b] + zi, perm[b + 1] + zi
    g = _grad3_np
    x0 = _lerp_np(u, g(perm[aa], x, y, z), g(perm[ba], x - 1.0, y, z))
    x1 = _lerp_np(u, g(perm[ab], x, y - 1.0, z), g(perm[bb], x - 1.0, y - 1.0, z))
    x2 = _lerp_np(u, g(perm[aa + 1], x, y, z - 1.0), g(perm[ba + 1], x - 1.0, y, z - 1.0))
    x3 = _lerp_np(u, g(perm[ab + 1], x, y - 1.0, z - 1.0), g(perm[bb + 1], x - 1.0, y - 1.0, z - 1.0))
    value = _lerp_np(w, _lerp_np(v, x0, x1), _lerp_np(v, x2, x3))
    return np.clip(value, -1.0, 1.0).reshape(shape)


@njit(parallel=True, cache=True)
def _fractal2_grid(
    height: int,
    width: int,
    scale: float,
    stretch: float,
    cos_a: float,
    sin_a: float,
    octaves: int,
    persistence: float,
    lacunarity: float,
    perm: np.ndarray,
    out: np.ndarray,
) -> None:
    norm = 0.0
    amp = 1.0
    for _ in range(octaves):
        norm += amp
        amp *= persistence
    for i in prange(height):
        for j in range(width):
            # rotate into the (along, across) frame; "along" is stretched by `stretch`
            along = (j * cos_a + i * sin_a) / (scale * stretch)
            across = (-j * sin_a + i * cos_a) / scale
            total = 0.0
            amp = 1.0
            freq = 1.0
            for o in range(octaves):
                shift = 37.17 * o  # decorrelates octaves sharing one permutation table
                total += amp * noise2(along * freq + shift, across * freq - shift, perm)
                amp *= persistence
                freq *= lacunarity
            out[i, j] = total / norm


def fractal_noise2d(
    shape: tuple[int, int],
    scale: float,
    seed: int = 0,
    octaves: int = 4,
    persistence: float = 0.5,
    lacunarity: float = 2.0,
    angle_deg: float = 0.0,
    stretch: float = 1.0,
) -> np.ndarray:
    """Fractal (fBm) Perlin noise on a pixel grid, float32 (H, W) in [-1, 1].

    ``scale`` is the feature size in pixels of the first octave; ``stretch`` > 1 elongates
    features along ``angle_deg`` (0 = along x), e.g. the streaks of a brushed metal plate.
    """
    height, width = (int(s) for s in shape)
    if height <= 0 or width <= 0:
        raise ValueError(f"noise shape must be positive, got {shape}")
    if not (scale > 0 and stretch > 0 and octaves >= 1 and lacunarity > 0):
        raise ValueError("fractal noise needs scale > 0, stretch > 0, octaves >= 1, lacunarity > 0")
    out = np.empty((height, width), dtype=np.float32)
    a = np.deg2rad(angle_deg)
    _fractal2_grid(
        height, width, float(scale), float(stretch), float(np.cos(a)), float(np.sin(a)),
        int(octaves), float(persistence), float(lacunarity), permutation_table(seed), out,
    )
    return out
