"""Ring-light shading of a height field: GGX microfacet specular + Lambert diffuse (Numba).

Geometry in millimetres: pixel (i, j) of an (H, W) field lies at
((j - W/2) · pitch, (i - H/2) · pitch, height[i, j]); the camera looks down from
(0, 0, working distance) and the ring light's lamps sit around it at the same height.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit, prange

__all__ = ["RingLight", "Material", "shade", "flat_reference"]


@dataclass(frozen=True)
class RingLight:
    """Lamps on a circle (or hexagon) of ``radius_mm · scale`` around the camera axis."""

    radius_mm: float = 35.0
    distance_mm: float = 100.0  # height of camera and ring above the plate
    rotation_deg: float = 0.0
    scale: float = 1.0  # docs/design.md §7 light variant: 2.0
    hexagonal: bool = False
    n_lamps: int = 8
    nonuniformity: float = 0.35  # lamp intensity 1 + u·cos(φ − rotation): makes rotation visible

    def __post_init__(self) -> None:
        if not (self.radius_mm > 0 and self.distance_mm > 0 and self.scale > 0):
            raise ValueError("RingLight needs radius_mm, distance_mm and scale > 0")
        if self.n_lamps < 1 or (self.hexagonal and self.n_lamps % 6):
            raise ValueError("RingLight.n_lamps must be >= 1 (a multiple of 6 when hexagonal)")
        if not 0.0 <= self.nonuniformity < 1.0:
            raise ValueError("RingLight.nonuniformity must be in [0, 1)")

    def lamps(self) -> tuple[np.ndarray, np.ndarray]:
        """Lamp positions (n, 3) in mm and relative intensities (n,) (mean 1)."""
        n = self.n_lamps
        radius = self.radius_mm * self.scale
        rot = np.deg2rad(self.rotation_deg)
        phi = rot + 2.0 * np.pi * (np.arange(n) + 0.5) / n
        if self.hexagonal:
            # n/6 lamps evenly spaced along each side of a hexagon with circumradius `radius`
            per_side = n // 6
            corners = rot + np.pi / 3.0 * np.arange(7)
            cx, cy = radius * np.cos(corners), radius * np.sin(corners)
            s = (np.arange(per_side) + 0.5) / per_side
            x = np.concatenate([cx[k] + s * (cx[k + 1] - cx[k]) for k in range(6)])
            y = np.concatenate([cy[k] + s * (cy[k + 1] - cy[k]) for k in range(6)])
            phi = np.arctan2(y, x)
        else:
            x, y = radius * np.cos(phi), radius * np.sin(phi)
        pos = np.stack([x, y, np.full(n, self.distance_mm)], axis=1)
        intensity = 1.0 + self.nonuniformity * np.cos(phi - rot)
        return pos.astype(np.float64), (intensity / intensity.mean()).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Material:
    """Brushed-metal reflectance: GGX roughness α, Fresnel F0, diffuse albedo."""

    roughness: float = 0.22
    f0: float = 0.9
    diffuse: float = 0.12

    def __post_init__(self) -> None:
        if not (0.01 <= self.roughness <= 1.0 and 0.0 <= self.f0 <= 1.0 and self.diffuse >= 0):
            raise ValueError("Material needs 0.01 <= roughness <= 1, 0 <= f0 <= 1, diffuse >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@njit(parallel=True, cache=True, fastmath=True)
def _shade_kernel(
    height: np.ndarray, diffuse: np.ndarray, specular: np.ndarray, pitch: float,
    x_offset: float, y_offset: float, lamps: np.ndarray, intensity: np.ndarray,
    camera_z: float, alpha: float, f0: float, out: np.ndarray,
) -> None:
    # Rows in parallel; per row, lamps outer and pixels inner with branch-free float32
    # arithmetic, so the pixel loop vectorizes (SIMD).
    h, w = height.shape
    a2 = np.float32(alpha * alpha)
    k = np.float32(alpha * 0.5)
    one = np.float32(1.0)
    ref2 = np.float32(camera_z * camera_z)
    inv_pi = np.float32(1.0 / np.pi)
    f0 = np.float32(f0)
    tiny = np.float32(1e-4)
    for i in prange(h):
        i0 = max(i - 1, 0)
        i1 = min(i + 1, h - 1)
        nx = np.empty(w, dtype=np.float32)
        ny = np.empty(w, dtype=np.float32)
        nz = np.empty(w, dtype=np.float32)
        px = np.empty(w, dtype=np.float32)
        pz = np.empty(w, dtype=np.float32)
        vx = np.empty(w, dtype=np.float32)
        vy = np.empty(w, dtype=np.float32)
        vz = np.empty(w, dtype=np.float32)
        gv = np.empty(w, dtype=np.float32)
        acc = np.zeros(w, dtype=np.float32)
        py = np.float32((i - y_offset) * pitch)
        dy_scale = (i1 - i0) * pitch
        for j in range(w):
            j0 = max(j - 1, 0)
            j1 = min(j + 1, w - 1)
            gx = (height[i, j1] - height[i, j0]) / ((j1 - j0) * pitch) if j1 > j0 else 0.0
            gy = (height[i1, j] - height[i0, j]) / dy_scale if i1 > i0 else 0.0
            inv = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
            nx[j] = -gx * inv
            ny[j] = -gy * inv
            nz[j] = inv
            x = (j - x_offset) * pitch
            px[j] = x
            pz[j] = height[i, j]
            ex, ey, ez = -x, -py, camera_z - height[i, j]
            en = 1.0 / np.sqrt(ex * ex + ey * ey + ez * ez)
            vx[j] = ex * en
            vy[j] = ey * en
            vz[j] = ez * en
            ndv = max(nx[j] * vx[j] + ny[j] * vy[j] + nz[j] * vz[j], tiny)
            gv[j] = ndv / (ndv * (one - k) + k) / (np.float32(4.0) * ndv)
        for m in range(lamps.shape[0]):
            lxm = np.float32(lamps[m, 0])
            lym = np.float32(lamps[m, 1]) - py
            lzm = np.float32(lamps[m, 2])
            power = np.float32(intensity[m]) * ref2
            for j in range(w):
                lx = lxm - px[j]
                lz = lzm - pz[j]
                d2 = lx * lx + lym * lym + lz * lz
                il = one / np.sqrt(d2)
                ux, uy, uz = lx * il, lym * il, lz * il
                ndl = nx[j] * ux + ny[j] * uy + nz[j] * uz
                lit = ndl > 0
                ndl = max(ndl, tiny)
                hx, hy, hz = ux + vx[j], uy + vy[j], uz + vz[j]
                ih = one / np.sqrt(hx * hx + hy * hy + hz * hz)
                ndh = max((nx[j] * hx + ny[j] * hy + nz[j] * hz) * ih, np.float32(0.0))
                vdh = max((vx[j] * hx + vy[j] * hy + vz[j] * hz) * ih, np.float32(0.0))
                den = ndh * ndh * (a2 - one) + one
                dist = a2 * inv_pi / (den * den)
                c = one - vdh
                c2 = c * c
                fres = f0 + (one - f0) * c2 * c2 * c
                spec = dist * fres * gv[j] / (ndl * (one - k) + k)
                term = power * ndl / d2 * (diffuse[i, j] * inv_pi + specular[i, j] * spec)
                acc[j] += term if lit else np.float32(0.0)
        for j in range(w):
            out[i, j] = acc[j]


def shade(
    height_mm: np.ndarray,
    diffuse: np.ndarray,
    specular: np.ndarray,
    pitch_mm: float,
    light: RingLight,
    material: Material,
    centre_px: tuple[float, float] | None = None,
) -> np.ndarray:
    """Radiance (H, W) float32 toward the camera; ``diffuse``/``specular`` are per-pixel weights.

    ``centre_px`` (y, x) is the pixel under the camera axis (default: the image centre).
    """
    height_mm = np.ascontiguousarray(height_mm, dtype=np.float32)
    if height_mm.ndim != 2 or diffuse.shape != height_mm.shape or specular.shape != height_mm.shape:
        raise ValueError("height, diffuse and specular maps must share one (H, W) shape")
    h, w = height_mm.shape
    cy, cx = centre_px if centre_px is not None else ((h - 1) / 2.0, (w - 1) / 2.0)
    lamps, intensity = light.lamps()
    out = np.empty((h, w), dtype=np.float32)
    _shade_kernel(
        height_mm, np.ascontiguousarray(diffuse, dtype=np.float32) * material.diffuse,
        np.ascontiguousarray(specular, dtype=np.float32), float(pitch_mm), float(cx), float(cy),
        lamps, intensity, float(light.distance_mm), float(material.roughness),
        float(material.f0), out,
    )
    return out


def flat_reference(light: RingLight, material: Material, specular: float = 1.0) -> float:
    """Radiance of a flat plate under the camera (the exposure reference); ``specular`` = 0
    gives the matte part alone."""
    one = np.ones((1, 1), dtype=np.float32)
    spec = np.full((1, 1), specular, dtype=np.float32)
    return float(shade(np.zeros((1, 1)), one, spec, 1.0, light, material, (0.0, 0.0))[0, 0])
