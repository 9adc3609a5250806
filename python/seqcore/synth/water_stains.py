"""Procedural water stains (docs/design.md §6, paper Algorithm 1) as a reflectance change of any image.

For a surface point p (pixel (i, j) sits at p = (j, i) · pixel_pitch in millimetres):
r' = r + Perlin(p · f) · A; d is the distance to the given centre, or to the nearest
jittered-grid centre among the cell floor(p / G) and its eight neighbours. Where d ≤ r',
R_out = R_in + (d / r')^γ · α (α < 0 darkens toward the rim), and the same test gives the
pixel-exact stain mask. Each cell holds a stain with a probability, and each stain draws its
own base radius in [r − spread, r + spread]. A Numba kernel and a plain NumPy version
compute identical fields; the NumPy one is the benchmark baseline and the test oracle.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from numba import njit, prange

from seqcore.synth.perlin import noise2, perlin2d_numpy, permutation_table

__all__ = [
    "WaterStainParams",
    "StainCentres",
    "jittered_centres",
    "stain_field",
    "apply_reflectance_change",
    "water_stains",
]

Backend = Literal["numba", "numpy"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NOISE_SEED_OFFSET = 7919  # the Perlin table and the centre hashes use unrelated streams


@dataclass(frozen=True)
class WaterStainParams:
    """Every parameter of Algorithm 1; lengths in millimetres, mapped to pixels by the pitch."""

    radius_mm: float = 1.5  # r: base stain radius
    radius_spread_mm: float = 0.5  # each stain's r is uniform in [r - spread, r + spread]
    frequency_per_mm: float = 0.6  # f: Perlin frequency of the outline perturbation
    amplitude_mm: float = 0.35  # A: Perlin amplitude of the outline perturbation
    gamma: float = 6.0  # γ: decay of the change from rim (d̂ = 1) to centre (d̂ = 0)
    alpha: float = -0.35  # α: reflectance change at the rim (negative darkens)
    cell_size_mm: float = 6.0  # G: jittered-grid cell size (controls stain density)
    probability: float = 0.5  # chance that a cell holds a stain
    pixel_pitch_mm: float = 0.05  # millimetres per pixel
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("radius_mm", "cell_size_mm", "pixel_pitch_mm", "frequency_per_mm", "gamma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"WaterStainParams.{name} must be a finite number > 0, got {value}")
        for name in ("radius_spread_mm", "amplitude_mm", "alpha"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"WaterStainParams.{name} must be finite")
        if self.radius_spread_mm < 0:
            raise ValueError("WaterStainParams.radius_spread_mm must be >= 0")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"WaterStainParams.probability must be in [0, 1], got {self.probability}")

    @property
    def max_radius_mm(self) -> float:
        """Largest r' any stain can reach (Perlin noise lies in [-1, 1])."""
        return self.radius_mm + self.radius_spread_mm + abs(self.amplitude_mm)

    @property
    def noise_seed(self) -> int:
        """Seed of the Perlin table perturbing the radius (unrelated to the centre hashes)."""
        return self.seed + _NOISE_SEED_OFFSET

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> WaterStainParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class StainCentres:
    """Jittered-grid stain table over cells -1..n (one pseudo-random centre per cell)."""

    cell_origin: tuple[int, int]  # (cell_y, cell_x) of table entry [0, 0], always (-1, -1)
    centre_x: np.ndarray  # (ny + 2, nx + 2) float64 millimetres
    centre_y: np.ndarray  # (ny + 2, nx + 2) float64 millimetres
    radius: np.ndarray  # (ny + 2, nx + 2) float64 base radius r_k in mm, -1 where no stain

    @property
    def present(self) -> np.ndarray:
        return self.radius >= 0


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _cell_uniforms(cell_y: np.ndarray, cell_x: np.ndarray, seed: int, n: int) -> list[np.ndarray]:
    """``n`` uniforms in [0, 1) per cell, a pure function of (cell index, seed)."""
    with np.errstate(over="ignore"):
        key = (cell_y.astype(np.int64).astype(np.uint64) << np.uint64(32)) ^ (
            cell_x.astype(np.int64).astype(np.uint64) & np.uint64(0xFFFFFFFF)
        )
        key = _splitmix64(key ^ _splitmix64(np.full_like(key, np.uint64(seed & (2**64 - 1)))))
        out = []
        for k in range(n):
            h = _splitmix64(key + np.uint64(k + 1) * _GOLDEN)
            out.append((h >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    return out


def _grid_cells(shape: tuple[int, int], params: WaterStainParams) -> tuple[int, int]:
    """Number of cells (ny, nx) touched by pixel centres 0..H-1, 0..W-1."""
    h, w = shape
    g = params.cell_size_mm
    ny = int(np.floor((h - 1) * params.pixel_pitch_mm / g)) + 1
    nx = int(np.floor((w - 1) * params.pixel_pitch_mm / g)) + 1
    return ny, nx


def jittered_centres(shape: tuple[int, int], params: WaterStainParams) -> StainCentres:
    """One pseudo-random centre per cell (inside the cell), a stain flag and a base radius."""
    ny, nx = _grid_cells(shape, params)
    cy, cx = np.meshgrid(np.arange(-1, ny + 1), np.arange(-1, nx + 1), indexing="ij")
    u_x, u_y, u_p, u_r = _cell_uniforms(cy, cx, params.seed, 4)
    g = params.cell_size_mm
    radius = params.radius_mm + params.radius_spread_mm * (2.0 * u_r - 1.0)
    radius = np.where((u_p < params.probability) & (radius > 0), radius, -1.0)
    return StainCentres((-1, -1), (cx + u_x) * g, (cy + u_y) * g, radius)


@njit(parallel=True, cache=True)
def _field_grid_numba(
    height: int, width: int, pitch: float, g: float, cen_x: np.ndarray, cen_y: np.ndarray,
    rad: np.ndarray, freq: float, amp: float, gamma: float, perm: np.ndarray,
    field: np.ndarray, cell_id: np.ndarray,
) -> None:
    abs_amp = abs(amp)
    tw = cen_x.shape[1]
    for i in prange(height):
        y = i * pitch
        cy = int(np.floor(y / g))
        for j in range(width):
            x = j * pitch
            cx = int(np.floor(x / g))
            best = np.inf
            by = -1
            bx = -1
            for dy in range(-1, 2):
                ty = cy + dy + 1
                for dx in range(-1, 2):
                    tx = cx + dx + 1
                    if rad[ty, tx] < 0.0:
                        continue
                    ex = x - cen_x[ty, tx]
                    ey = y - cen_y[ty, tx]
                    d2 = ex * ex + ey * ey
                    if d2 < best:
                        best = d2
                        by = ty
                        bx = tx
            if by < 0:
                continue
            d = np.sqrt(best)
            r = rad[by, bx]
            if d > r + abs_amp:  # r' <= r + |A|: no noise needed to reject
                continue
            rp = r + noise2(x * freq, y * freq, perm) * amp
            if rp > 0.0 and d <= rp:
                field[i, j] = (d / rp) ** gamma
                cell_id[i, j] = by * tw + bx + 1


@njit(parallel=True, cache=True)
def _field_centres_numba(
    height: int, width: int, pitch: float, cen: np.ndarray, rad: np.ndarray, freq: float,
    amp: float, gamma: float, perm: np.ndarray, field: np.ndarray, inst: np.ndarray,
) -> None:
    abs_amp = abs(amp)
    for i in prange(height):
        y = i * pitch
        for j in range(width):
            x = j * pitch
            best = np.inf
            bk = -1
            for k in range(cen.shape[0]):
                ex = x - cen[k, 0]
                ey = y - cen[k, 1]
                d2 = ex * ex + ey * ey
                if d2 < best:
                    best = d2
                    bk = k
            if bk < 0:
                continue
            d = np.sqrt(best)
            r = rad[bk]
            if d > r + abs_amp:
                continue
            rp = r + noise2(x * freq, y * freq, perm) * amp
            if rp > 0.0 and d <= rp:
                field[i, j] = (d / rp) ** gamma
                inst[i, j] = bk + 1


def _finish_numpy(
    x: np.ndarray, y: np.ndarray, d: np.ndarray, r: np.ndarray, ident: np.ndarray,
    params: WaterStainParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Shared NumPy tail: perturbed radius on candidate pixels, the d ≤ r' test, d̂^γ."""
    field = np.zeros(d.shape, dtype=np.float32)
    ids = np.zeros(d.shape, dtype=np.int64)
    cand = (ident > 0) & ~(d > r + abs(params.amplitude_mm))
    xc, yc = np.broadcast_to(x, d.shape)[cand], np.broadcast_to(y, d.shape)[cand]
    f = params.frequency_per_mm
    rp = r[cand] + perlin2d_numpy(xc * f, yc * f, params.noise_seed) * params.amplitude_mm
    dc = d[cand]
    inside = (rp > 0.0) & (dc <= rp)
    sub_field = np.zeros(dc.shape, dtype=np.float32)
    sub_field[inside] = (dc[inside] / rp[inside]) ** params.gamma
    sub_ids = np.where(inside, ident[cand], 0)
    field[cand] = sub_field
    ids[cand] = sub_ids
    return field, ids


def _field_grid_numpy(
    shape: tuple[int, int], params: WaterStainParams, table: StainCentres
) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    pitch, g = params.pixel_pitch_mm, params.cell_size_mm
    y = (np.arange(h, dtype=np.float64) * pitch)[:, None]
    x = (np.arange(w, dtype=np.float64) * pitch)[None, :]
    cy = np.floor(y / g).astype(np.int64)
    cx = np.floor(x / g).astype(np.int64)
    tw = table.radius.shape[1]
    best = np.full((h, w), np.inf)
    best_id = np.zeros((h, w), dtype=np.int64)
    for dy in (-1, 0, 1):
        ty = cy + dy + 1
        for dx in (-1, 0, 1):
            tx = cx + dx + 1
            present = table.radius[ty, tx] >= 0.0
            ex = x - table.centre_x[ty, tx]
            ey = y - table.centre_y[ty, tx]
            d2 = ex * ex + ey * ey
            better = present & (d2 < best)
            best = np.where(better, d2, best)
            best_id = np.where(better, ty * tw + tx + 1, best_id)
    flat_r = np.concatenate([[-1.0], table.radius.ravel()])
    return _finish_numpy(x, y, np.sqrt(best), flat_r[best_id], best_id, params)


def _field_centres_numpy(
    shape: tuple[int, int], params: WaterStainParams, centres: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    pitch = params.pixel_pitch_mm
    y = (np.arange(h, dtype=np.float64) * pitch)[:, None]
    x = (np.arange(w, dtype=np.float64) * pitch)[None, :]
    best = np.full((h, w), np.inf)
    best_id = np.zeros((h, w), dtype=np.int64)
    for k, (cxk, cyk) in enumerate(centres):
        ex, ey = x - cxk, y - cyk
        d2 = ex * ex + ey * ey
        better = d2 < best
        best = np.where(better, d2, best)
        best_id = np.where(better, k + 1, best_id)
    r = np.concatenate([[-1.0], radii])[best_id]
    return _finish_numpy(x, y, np.sqrt(best), r, best_id, params)


def _compact_ids(cell_id: np.ndarray, n_cells: int) -> np.ndarray:
    """Renumber cell ids to instance ids 1..n in row-major cell order (0 stays 0), O(pixels)."""
    used = np.zeros(n_cells + 1, dtype=bool)
    used[cell_id.ravel()] = True
    used[0] = False
    lookup = np.cumsum(used).astype(np.int32)
    lookup[~used] = 0
    return lookup[cell_id]


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f"stain field shape must be (H, W) with H, W > 0, got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def _check_centres(
    centres: np.ndarray | None, radii: np.ndarray | float | None, params: WaterStainParams
) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(centres, dtype=np.float64)
    if c.ndim == 1 and c.shape == (2,):
        c = c[None, :]
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"centres must be (n, 2) (x, y) millimetres, got shape {c.shape}")
    if radii is None:
        r = np.full(len(c), params.radius_mm)
    else:
        r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(c),)).copy()
    if not (np.isfinite(c).all() and np.isfinite(r).all()):
        raise ValueError("centres and radii must be finite")
    if (r <= 0).any():
        raise ValueError("stain radii must be > 0")
    return np.ascontiguousarray(c), r


def stain_field(
    shape: tuple[int, int],
    params: WaterStainParams | None = None,
    centres: np.ndarray | None = None,
    radii: np.ndarray | float | None = None,
    backend: Backend = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """Stain geometry on an (H, W) grid: (d̂^γ inside stains else 0 as float32, int32 ids).

    With ``centres`` ((n, 2) x, y in mm; ``radii`` per centre, default r) instance k + 1 is
    centre k; otherwise centres come from the jittered grid and ids are 1..n in cell order.
    """
    params = params or WaterStainParams()
    h, w = _check_shape(shape)
    if backend not in ("numba", "numpy"):
        raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    if centres is not None:
        cen, rad = _check_centres(centres, radii, params)
        if backend == "numpy":
            field, ids = _field_centres_numpy((h, w), params, cen, rad)
            return field, ids.astype(np.int32)
        field = np.zeros((h, w), dtype=np.float32)
        ids = np.zeros((h, w), dtype=np.int32)
        _field_centres_numba(
            h, w, params.pixel_pitch_mm, cen, rad, params.frequency_per_mm, params.amplitude_mm,
            params.gamma, permutation_table(params.noise_seed), field, ids,
        )
        return field, ids
    if radii is not None:
        raise ValueError("radii are only used with given centres; set radius_mm/radius_spread_mm")
    if params.max_radius_mm > params.cell_size_mm:
        raise ValueError(
            f"stains up to {params.max_radius_mm:.3g} mm would be cut by the 3x3-cell search: "
            f"need radius_mm + radius_spread_mm + |amplitude_mm| <= cell_size_mm "
            f"({params.cell_size_mm:.3g} mm)"
        )
    table = jittered_centres((h, w), params)
    if backend == "numpy":
        field, cell_id = _field_grid_numpy((h, w), params, table)
    else:
        field = np.zeros((h, w), dtype=np.float32)
        cell_id = np.zeros((h, w), dtype=np.int64)
        _field_grid_numba(
            h, w, params.pixel_pitch_mm, params.cell_size_mm, table.centre_x, table.centre_y,
            table.radius, params.frequency_per_mm, params.amplitude_mm, params.gamma,
            permutation_table(params.noise_seed), field, cell_id,
        )
    return field, _compact_ids(cell_id, table.radius.size)


def apply_reflectance_change(image: np.ndarray, field: np.ndarray, alpha: float) -> np.ndarray:
    """R_out = R_in + field · α on a gray (H, W) or colour (H, W, C) image, same dtype.

    Integer images are read as reflectance in [0, 1] of their full scale. Only stained
    pixels (field > 0) are touched; there results are clipped to [0, 1] (rounded back for
    integer images), every other pixel is returned unchanged.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[:2] != field.shape:
        raise ValueError(
            f"image must be (H, W) or (H, W, C) matching the field {field.shape}, got {img.shape}"
        )
    if img.dtype.kind not in "uf":
        raise ValueError(f"image dtype must be unsigned integer or float, got {img.dtype}")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise ValueError("image contains NaN or inf")
    out = img.copy()
    inside = field > 0
    change = field[inside].astype(np.float64) * alpha
    if img.ndim == 3:
        change = change[:, None]
    if img.dtype.kind == "u":
        full = float(np.iinfo(img.dtype).max)
        out[inside] = np.clip(np.rint(img[inside] + change * full), 0, full).astype(img.dtype)
    else:
        out[inside] = np.clip(img[inside] + change, 0.0, 1.0).astype(img.dtype)
    return out


def water_stains(
    image: np.ndarray,
    params: WaterStainParams | None = None,
    centres: np.ndarray | None = None,
    radii: np.ndarray | float | None = None,
    backend: Backend = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """Stain a gray or RGB image: returns (stained image, int32 stain instance mask).

    Deterministic for ``params.seed``. See :func:`stain_field` for ``centres``/``radii``.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    params = params or WaterStainParams()
    field, ids = stain_field(img.shape[:2], params, centres, radii, backend)
    return apply_reflectance_change(img, field, params.alpha), ids
