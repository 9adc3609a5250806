"""Procedural 2.5D brushed-metal inspection images with defects and impurities.

A scene is a height field (anisotropic Perlin streaks along the brushing direction plus
waviness) carrying defects as geometry (scratch: groove along a random curve; dent and
bump: smooth depressions/raises), reflectance maps carrying impurities (fingerprints as
ridge patterns, stickers as flat matte patches with sharp edges, water stains by docs/design.md §6),
shaded under a ring light, then exposed, blurred, noised, border-masked and quantized to
8 bits. Every random choice comes from the scene seed, so the stained and clean renderings
of one scene differ only inside the stain mask.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from numba import njit, prange

from seqcore.synth.perlin import fractal_noise2d, perlin2d
from seqcore.synth.shading import Material, RingLight, flat_reference, shade
from seqcore.synth.water_stains import WaterStainParams, stain_field

__all__ = [
    "DEFECT_CLASSES",
    "IMPURITY_CLASSES",
    "CLASS_IDS",
    "SurfaceParams",
    "CameraParams",
    "Scratch",
    "Blob",
    "Fingerprint",
    "Sticker",
    "Scene",
    "Rendering",
    "SurfaceGenerator",
]

DEFECT_CLASSES = ("scratch", "dent", "bump")
IMPURITY_CLASSES = ("water_stain", "fingerprint", "sticker")
CLASS_IDS = {name: k + 1 for k, name in enumerate(DEFECT_CLASSES + IMPURITY_CLASSES)}
_MASK_LEVEL = 0.25  # a defect's mask: where its height change reaches 25 % of its peak


@dataclass(frozen=True)
class SurfaceParams:
    """Brushed-metal texture (lengths in mm) and material."""

    brush_angle_deg: float = 0.0
    streak_width_mm: float = 0.08
    streak_length_mm: float = 3.0
    streak_depth_mm: float = 0.005
    streak_octaves: int = 2
    waviness_mm: float = 8.0
    waviness_depth_mm: float = 0.04
    reflectance_variation: float = 0.06  # low-frequency relative change of reflectance
    material: Material = field(default_factory=Material)


@dataclass(frozen=True)
class CameraParams:
    """Exposure (gray level of the plain plate as a fraction of 255), noise, blur, border."""

    exposure: float = 0.45
    read_noise: float = 0.006  # std of additive noise, fraction of full scale
    shot_noise: float = 0.012  # std of signal-dependent noise at full scale
    blur_sigma_px: float = 0.6
    border_px: int = 6  # masked (black, outside ROI) frame around the image


@dataclass(frozen=True)
class Scratch:
    """Groove along a cubic Bézier curve (control points in mm, image frame)."""

    control_mm: tuple[tuple[float, float], ...]
    half_width_mm: float  # groove profile (1 - (d / half_width)^2)^2 for d < half_width
    depth_mm: float
    kind: str = "scratch"


@dataclass(frozen=True)
class Blob:
    """Smooth elliptical Gaussian depression ("dent", depth > 0) or raise ("bump")."""

    kind: str
    centre_mm: tuple[float, float]
    sigma_mm: tuple[float, float]
    angle_deg: float
    depth_mm: float


@dataclass(frozen=True)
class Fingerprint:
    """Elliptical patch of oily ridges that dull the specular reflection."""

    centre_mm: tuple[float, float]
    radii_mm: tuple[float, float]
    angle_deg: float
    period_mm: float
    strength: float
    seed: int
    kind: str = "fingerprint"


@dataclass(frozen=True)
class Sticker:
    """Flat matte rectangle with sharp edges, lying on the plate."""

    centre_mm: tuple[float, float]
    size_mm: tuple[float, float]
    angle_deg: float
    brightness: float  # matte radiance relative to the plain plate under the scene's light
    thickness_mm: float
    kind: str = "sticker"


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one image; JSON-serializable via :meth:`to_dict`."""

    height_px: int
    width_px: int
    pixel_pitch_mm: float
    seed: int
    texture_seed: int
    noise_seed: int
    surface: SurfaceParams
    light: RingLight
    camera: CameraParams
    defects: tuple[Scratch | Blob, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    stickers: tuple[Sticker, ...] = ()
    water_stains: WaterStainParams | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rendering:
    """An 8-bit image with its class mask, instance ids, ROI and parameters."""

    image: np.ndarray  # (H, W) uint8
    class_mask: np.ndarray  # (H, W) uint8 class ids (CLASS_IDS), 0 = background
    instance_mask: np.ndarray  # (H, W) int32 instance ids unique in the image, 0 = none
    roi: np.ndarray  # (H, W) bool, False on the masked border
    stain_mask: np.ndarray  # (H, W) int32 water-stain ids from Algorithm 1 (0 = none)
    params: dict[str, Any]

    def encoded_mask(self) -> np.ndarray:
        """uint16 mask for PNG files: class id · 1000 + instance id (0 = background)."""
        if self.instance_mask.max(initial=0) >= 1000:
            raise ValueError("more than 999 instances cannot be encoded as class*1000+instance")
        encoded = self.class_mask.astype(np.uint16) * 1000 + self.instance_mask.astype(np.uint16)
        return np.where(self.class_mask > 0, encoded, 0).astype(np.uint16)


@njit(parallel=True, cache=True)
def _polyline_distance(points: np.ndarray, arc: np.ndarray, y0: int, x0: int,
                       dist: np.ndarray, along: np.ndarray) -> None:
    """Distance (px) of each pixel of a window to a polyline and the arc parameter there."""
    h, w = dist.shape
    for i in prange(h):
        py = float(y0 + i)
        for j in range(w):
            px = float(x0 + j)
            best = np.inf
            best_t = 0.0
            for k in range(points.shape[0] - 1):
                ax, ay = points[k, 0], points[k, 1]
                vx, vy = points[k + 1, 0] - ax, points[k + 1, 1] - ay
                vv = vx * vx + vy * vy
                s = ((px - ax) * vx + (py - ay) * vy) / vv if vv > 0 else 0.0
                s = min(1.0, max(0.0, s))
                ex, ey = px - ax - s * vx, py - ay - s * vy
                d2 = ex * ex + ey * ey
                if d2 < best:
                    best = d2
                    best_t = arc[k] + s * (arc[k + 1] - arc[k])
            dist[i, j] = np.sqrt(best)
            along[i, j] = best_t


Window = tuple[int, int, int, int]  # y0, y1, x0, x1


def _bezier(control: np.ndarray, n: int = 96) -> np.ndarray:
    """Points of a cubic Bézier curve given its four control points (n, 2)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2, p3 = control
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _window(centre: np.ndarray, half: float, shape: tuple[int, int]) -> Window:
    """Clipped pixel window [y0, y1) × [x0, x1) of half-size ``half`` around (x, y)."""
    x0 = max(int(np.floor(centre[0] - half)), 0)
    x1 = min(int(np.ceil(centre[0] + half)) + 1, shape[1])
    y0 = max(int(np.floor(centre[1] - half)), 0)
    y1 = min(int(np.ceil(centre[1] + half)) + 1, shape[0])
    return y0, y1, x0, x1


def _scratch_height(s: Scratch, pitch: float, shape: tuple[int, int]) -> tuple[Window, np.ndarray] | None:
    """Height change of a scratch inside its window: (window, delta_mm) or None if outside."""
    curve = _bezier(np.asarray(s.control_mm, dtype=np.float64) / pitch)
    seg = np.hypot(*np.diff(curve, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-9)
    half_w = s.half_width_mm / pitch
    lo, hi = curve.min(axis=0) - half_w - 1, curve.max(axis=0) + half_w + 1
    y0, y1 = max(int(lo[1]), 0), min(int(hi[1]) + 1, shape[0])
    x0, x1 = max(int(lo[0]), 0), min(int(hi[0]) + 1, shape[1])
    if y1 <= y0 or x1 <= x0:
        return None
    dist = np.empty((y1 - y0, x1 - x0))
    along = np.empty_like(dist)
    _polyline_distance(curve, arc, y0, x0, dist, along)
    u = np.clip(dist / half_w, 0.0, 1.0)
    taper = np.clip(np.minimum(along, 1.0 - along) / 0.12, 0.0, 1.0) ** 0.5
    return (y0, y1, x0, x1), -s.depth_mm * taper * (1.0 - u * u) ** 2


def _blob_height(b: Blob, pitch: float, shape: tuple[int, int]) -> tuple[Window, np.ndarray] | None:
    """Height change of a dent (negative) or bump (positive) inside its window, or None."""
    centre = np.asarray(b.centre_mm) / pitch
    sx, sy = (s / pitch for s in b.sigma_mm)
    y0, y1, x0, x1 = _window(centre, 3.5 * max(sx, sy), shape)
    if y1 <= y0 or x1 <= x0:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    a = np.deg2rad(b.angle_deg)
    du, dv = xx - centre[0], yy - centre[1]
    u = (du * np.cos(a) + dv * np.sin(a)) / sx
    v = (-du * np.sin(a) + dv * np.cos(a)) / sy
    sign = -1.0 if b.kind == "dent" else 1.0
    return (y0, y1, x0, x1), sign * b.depth_mm * np.exp(-0.5 * (u * u + v * v))


def _fingerprint(
    fp: Fingerprint, pitch: float, shape: tuple[int, int]
) -> tuple[Window, np.ndarray, np.ndarray] | None:
    """(window, ridge weight in [0, 1] inside the print, print mask) or None."""
    centre = np.asarray(fp.centre_mm) / pitch
    y0, y1, x0, x1 = _window(centre, max(fp.radii_mm) / pitch + 1, shape)
    if y1 <= y0 or x1 <= x0:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    a = np.deg2rad(fp.angle_deg)
    du, dv = (xx - centre[0]) * pitch, (yy - centre[1]) * pitch
    u = du * np.cos(a) + dv * np.sin(a)
    v = -du * np.sin(a) + dv * np.cos(a)
    ellipse = (u / fp.radii_mm[0]) ** 2 + (v / fp.radii_mm[1]) ** 2
    warp = perlin2d(u * 0.35, v * 0.35, fp.seed) * 2.5 * fp.period_mm
    rho = np.hypot(u, 1.35 * v) + warp
    ridges = 0.5 + 0.5 * np.cos(2.0 * np.pi * rho / fp.period_mm)
    envelope = np.clip(1.0 - ellipse, 0.0, 1.0) ** 0.35
    return (y0, y1, x0, x1), ridges * envelope, ellipse <= 1.0


def _sticker_mask(st: Sticker, pitch: float, shape: tuple[int, int]) -> np.ndarray:
    """Pixels covered by the sticker's rotated rectangle (sharp edges, no antialiasing)."""
    a = np.deg2rad(st.angle_deg)
    half = np.asarray(st.size_mm) / 2.0
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * half
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = (corners @ rot.T + np.asarray(st.centre_mm)) / pitch
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _smooth_noise(shape: tuple[int, int], scale_px: float, seed: int, octaves: int = 2) -> np.ndarray:
    """Low-frequency fractal noise computed on a coarse grid and upsampled (cheap)."""
    factor = int(max(1, min(8, scale_px // 16)))
    small = (max(2, -(-shape[0] // factor) + 1), max(2, -(-shape[1] // factor) + 1))
    noise = fractal_noise2d(small, scale_px / factor, seed=seed, octaves=octaves)
    return cv2.resize(noise, (small[1] * factor, small[0] * factor), interpolation=cv2.INTER_CUBIC)[
        : shape[0], : shape[1]
    ]


@dataclass
class _Geometry:
    height: np.ndarray
    diffuse: np.ndarray
    specular: np.ndarray
    class_mask: np.ndarray
    instance_mask: np.ndarray
    roi: np.ndarray
    n_instances: int


@dataclass(frozen=True)
class SceneRanges:
    """Ranges (mm unless noted) from which :meth:`SurfaceGenerator.sample_scene` draws."""

    scratch_length_mm: tuple[float, float] = (3.0, 9.0)
    scratch_half_width_mm: tuple[float, float] = (0.15, 0.3)
    scratch_depth_mm: tuple[float, float] = (0.01, 0.02)
    blob_sigma_mm: tuple[float, float] = (0.35, 0.9)
    blob_depth_mm: tuple[float, float] = (0.05, 0.1)
    fingerprint_radius_mm: tuple[float, float] = (1.5, 2.8)
    sticker_size_mm: tuple[float, float] = (2.0, 5.0)
    brush_angle_jitter_deg: float = 3.0


class SurfaceGenerator:
    """Samples and renders brushed-metal scenes of one size and pixel pitch."""

    def __init__(
        self,
        height: int = 512,
        width: int = 512,
        pixel_pitch_mm: float = 0.05,
        surface: SurfaceParams | None = None,
        light: RingLight | None = None,
        camera: CameraParams | None = None,
        stains: WaterStainParams | None = None,
        ranges: SceneRanges | None = None,
    ) -> None:
        if height < 16 or width < 16:
            raise ValueError(f"image size must be at least 16x16 pixels, got {height}x{width}")
        if not pixel_pitch_mm > 0:
            raise ValueError("pixel_pitch_mm must be > 0")
        self.height, self.width, self.pitch = int(height), int(width), float(pixel_pitch_mm)
        self.surface = surface or SurfaceParams()
        self.light = light or RingLight()
        self.camera = camera or CameraParams()
        self.stains = (stains or WaterStainParams()).with_(pixel_pitch_mm=self.pitch)
        self.ranges = ranges or SceneRanges()

    # ---- sampling -------------------------------------------------------------------
    def sample_scene(
        self,
        seed: int,
        defects: Sequence[str] = (),
        fingerprints: int = 0,
        stickers: int = 0,
    ) -> Scene:
        """A random scene; each concern draws from its own stream of ``seed``, so the texture
        does not depend on the defects and the defects do not depend on the impurities."""
        for name in defects:
            if name not in DEFECT_CLASSES:
                raise ValueError(f"unknown defect class {name!r}; known: {DEFECT_CLASSES}")
        streams = np.random.SeedSequence(int(seed)).spawn(5)
        tex, dfx, imp, stn, cam = (np.random.default_rng(s) for s in streams)
        texture_seed, noise_seed = int(tex.integers(2**31)), int(cam.integers(2**31))
        r = self.ranges
        surface = replace(
            self.surface,
            brush_angle_deg=self.surface.brush_angle_deg
            + float(tex.uniform(-r.brush_angle_jitter_deg, r.brush_angle_jitter_deg)),
        )
        return Scene(
            height_px=self.height,
            width_px=self.width,
            pixel_pitch_mm=self.pitch,
            seed=int(seed),
            texture_seed=texture_seed,
            noise_seed=noise_seed,
            surface=surface,
            light=self.light,
            camera=self.camera,
            defects=tuple(self._sample_defect(name, dfx) for name in defects),
            fingerprints=tuple(self._sample_fingerprint(imp) for _ in range(fingerprints)),
            stickers=tuple(self._sample_sticker(imp) for _ in range(stickers)),
            water_stains=self.stains.with_(seed=int(stn.integers(2**31))),
        )

    def _inner_point(self, rng: np.random.Generator, margin_mm: float) -> np.ndarray:
        b = self.camera.border_px * self.pitch + margin_mm
        w, h = self.width * self.pitch, self.height * self.pitch
        mx, my = min(b, w / 2 - 1e-3), min(b, h / 2 - 1e-3)
        return np.array([rng.uniform(mx, w - mx), rng.uniform(my, h - my)])

    def _sample_defect(self, name: str, rng: np.random.Generator) -> Scratch | Blob:
        r = self.ranges
        if name == "scratch":
            fov = min(self.width, self.height) * self.pitch
            length = min(rng.uniform(*r.scratch_length_mm), 0.7 * fov)
            centre = self._inner_point(rng, length / 2)
            theta = rng.uniform(0, np.pi)
            axis = np.array([np.cos(theta), np.sin(theta)])
            normal = np.array([-axis[1], axis[0]])
            bend = rng.uniform(-0.18, 0.18, size=2) * length
            p0, p3 = centre - axis * length / 2, centre + axis * length / 2
            p1 = p0 + axis * length / 3 + normal * bend[0]
            p2 = p0 + axis * 2 * length / 3 + normal * bend[1]
            control = tuple(tuple(float(c) for c in p) for p in (p0, p1, p2, p3))
            width = max(rng.uniform(*r.scratch_half_width_mm), 1.5 * self.pitch)
            return Scratch(control, float(width), float(rng.uniform(*r.scratch_depth_mm)))
        sigma = rng.uniform(*r.blob_sigma_mm) * rng.uniform(0.75, 1.0, size=2)
        sigma = np.maximum(sigma, 1.5 * self.pitch)
        centre = self._inner_point(rng, 2.0 * float(sigma.max()))
        return Blob(
            kind=name,
            centre_mm=(float(centre[0]), float(centre[1])),
            sigma_mm=(float(sigma[0]), float(sigma[1])),
            angle_deg=float(rng.uniform(0, 180)),
            depth_mm=float(rng.uniform(*r.blob_depth_mm)),
        )

    def _sample_fingerprint(self, rng: np.random.Generator) -> Fingerprint:
        radius = rng.uniform(*self.ranges.fingerprint_radius_mm)
        centre = self._inner_point(rng, radius)
        return Fingerprint(
            centre_mm=(float(centre[0]), float(centre[1])),
            radii_mm=(float(radius * 0.75), float(radius)),
            angle_deg=float(rng.uniform(0, 180)),
            period_mm=float(max(0.45, 3.0 * self.pitch)),
            strength=float(rng.uniform(0.2, 0.4)),
            seed=int(rng.integers(2**31)),
        )

    def _sample_sticker(self, rng: np.random.Generator) -> Sticker:
        size = rng.uniform(*self.ranges.sticker_size_mm, size=2)
        centre = self._inner_point(rng, float(size.max()) / 2)
        return Sticker(
            centre_mm=(float(centre[0]), float(centre[1])),
            size_mm=(float(size[0]), float(size[1])),
            angle_deg=float(rng.uniform(0, 180)),
            brightness=float(rng.uniform(0.5, 1.6)),
            thickness_mm=float(rng.uniform(0.04, 0.08)),
        )

    # ---- rendering ------------------------------------------------------------------
    def render(self, scene: Scene, light: RingLight | None = None, stains: bool = True) -> Rendering:
        """Render one scene (optionally under another light, with or without water stains)."""
        name = "image"
        return self.render_variants(scene, {name: (light or scene.light, stains)})[name]

    def render_variants(
        self, scene: Scene, variants: dict[str, tuple[RingLight, bool]]
    ) -> dict[str, Rendering]:
        """Render several (light, with-stains) variants sharing one geometry pass."""
        geometry = self._geometry(scene)
        field, stain_ids = self._stains(scene, geometry.roi)
        radiance: dict[RingLight, np.ndarray] = {}
        out = {}
        for name, (light, with_stains) in variants.items():
            if light not in radiance:
                radiance[light] = self._expose(scene, geometry, light)
            out[name] = self._finish(scene, geometry, radiance[light], light,
                                     field if with_stains else None, stain_ids)
        return out

    def _geometry(self, scene: Scene) -> _Geometry:
        """Height field, reflectance maps, masks and ROI of a scene (light-independent)."""
        shape = (scene.height_px, scene.width_px)
        pitch = scene.pixel_pitch_mm
        sp = scene.surface
        tex_seed = scene.texture_seed
        streak_w = max(sp.streak_width_mm / pitch, 0.6)
        height = fractal_noise2d(
            shape, streak_w, seed=tex_seed, octaves=sp.streak_octaves,
            angle_deg=sp.brush_angle_deg, stretch=max(sp.streak_length_mm / sp.streak_width_mm, 1.0),
        ).astype(np.float64) * sp.streak_depth_mm
        height += _smooth_noise(shape, sp.waviness_mm / pitch, tex_seed + 1) * sp.waviness_depth_mm
        specular = 1.0 + sp.reflectance_variation * _smooth_noise(
            shape, 0.3 * max(shape), tex_seed + 2
        )
        diffuse = specular.copy()
        class_mask = np.zeros(shape, dtype=np.uint8)
        instance = np.zeros(shape, dtype=np.int32)
        n = 0

        material = scene.surface.material
        matte = flat_reference(scene.light, material) / flat_reference(scene.light, material, 0.0)
        for st in scene.stickers:  # impurities first: defects are painted over them
            mask = _sticker_mask(st, pitch, shape)
            if mask.any():
                height[mask] = height[mask].mean() + st.thickness_mm
                diffuse[mask] = st.brightness * matte
                specular[mask] = 0.0
                n += 1
                class_mask[mask], instance[mask] = CLASS_IDS["sticker"], n
        for fp in scene.fingerprints:
            made = _fingerprint(fp, pitch, shape)
            if made is None:
                continue
            (y0, y1, x0, x1), weight, mask = made
            specular[y0:y1, x0:x1] *= 1.0 - fp.strength * weight
            diffuse[y0:y1, x0:x1] += 1.5 * fp.strength * weight
            n += 1
            class_mask[y0:y1, x0:x1][mask], instance[y0:y1, x0:x1][mask] = CLASS_IDS["fingerprint"], n
        for defect in scene.defects:
            made = (_scratch_height if isinstance(defect, Scratch) else _blob_height)(defect, pitch, shape)
            if made is None:
                continue
            (y0, y1, x0, x1), delta = made
            height[y0:y1, x0:x1] += delta
            mask = np.abs(delta) >= _MASK_LEVEL * np.abs(delta).max()
            n += 1
            class_mask[y0:y1, x0:x1][mask], instance[y0:y1, x0:x1][mask] = CLASS_IDS[defect.kind], n

        roi = np.zeros(shape, dtype=bool)
        b = scene.camera.border_px
        roi[b : shape[0] - b, b : shape[1] - b] = True
        class_mask[~roi] = 0
        instance[~roi] = 0
        return _Geometry(height, diffuse.astype(np.float32), specular.astype(np.float32),
                         class_mask, instance, roi, n)

    def _stains(self, scene: Scene, roi: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Algorithm 1 stain field and ids on the plate (nothing on the masked border)."""
        if scene.water_stains is None:
            return None, np.zeros(roi.shape, dtype=np.int32)
        field, ids = stain_field(roi.shape, scene.water_stains)
        ids[~roi] = 0
        field[~roi] = 0.0
        return field, ids

    def _expose(self, scene: Scene, geo: _Geometry, light: RingLight) -> np.ndarray:
        """Radiance scaled so the plain flat plate under the camera reads ``exposure``."""
        material = scene.surface.material
        radiance = shade(geo.height, geo.diffuse, geo.specular, scene.pixel_pitch_mm, light, material)
        radiance *= np.float32(scene.camera.exposure / flat_reference(light, material))
        if scene.camera.blur_sigma_px > 0:
            radiance = cv2.GaussianBlur(radiance, (0, 0), scene.camera.blur_sigma_px)
        return radiance

    def _finish(self, scene: Scene, geo: _Geometry, radiance: np.ndarray, light: RingLight,
                field: np.ndarray | None, stain_ids: np.ndarray) -> Rendering:
        """Stains (after the optics, so the pair differs only inside the stain mask), sensor
        noise from the scene's noise seed, 8-bit quantization, border masking, final masks."""
        cam = scene.camera
        signal = radiance.copy()
        class_mask, instance = geo.class_mask.copy(), geo.instance_mask.copy()
        params = scene.to_dict()
        params["light"] = light.to_dict()
        params["with_water_stains"] = field is not None
        if field is not None:
            # R_in = 1 for the plain plate: R_out = 1 + α·d̂^γ scales the reflected radiance
            signal *= 1.0 + np.float32(scene.water_stains.alpha) * field
            free = (stain_ids > 0) & (class_mask == 0)
            offset = geo.n_instances
            class_mask[free] = CLASS_IDS["water_stain"]
            instance[free] = stain_ids[free] + offset
        noise_rng = np.random.default_rng(scene.noise_seed)
        # read and shot noise are independent Gaussians: one draw with their combined std
        std = np.sqrt(cam.read_noise**2 + cam.shot_noise**2 * np.clip(signal, 0, None))
        signal += std * noise_rng.standard_normal(signal.shape, dtype=np.float32)
        image = np.clip(np.rint(signal * 255.0), 0, 255).astype(np.uint8)
        image[~geo.roi] = 0
        stain_mask = stain_ids if field is not None else np.zeros_like(stain_ids)
        instance = _renumber(instance)
        return Rendering(image, class_mask, instance, geo.roi.copy(), stain_mask, params)


def _renumber(instance: np.ndarray) -> np.ndarray:
    """Instance ids renumbered 1..n keeping their order (drops ids painted over entirely)."""
    counts = np.bincount(instance.ravel())
    counts[0] = 0
    lookup = np.cumsum(counts > 0).astype(np.int32)
    lookup[counts == 0] = 0
    return lookup[instance]
