"""Contact sheet of the generator: surfaces, each defect class, each impurity, light variants.

Each tile shows the 8-bit rendering beside its class mask (one colour per class, legend at
the bottom), so that what the generator makes can be checked by eye.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from seqcore.synth.surface import CLASS_IDS, SurfaceGenerator

__all__ = ["colour_mask", "make_contact_sheet"]

# BGR colours of the mask classes
_COLOURS = {
    "scratch": (60, 60, 255),
    "dent": (0, 160, 255),
    "bump": (0, 230, 230),
    "water_stain": (255, 200, 0),
    "fingerprint": (220, 80, 220),
    "sticker": (255, 90, 60),
}
_LABEL_H = 22


def colour_mask(class_mask: np.ndarray) -> np.ndarray:
    """BGR picture of a class mask, one colour per class (dark background)."""
    out = np.full(class_mask.shape + (3,), 24, dtype=np.uint8)
    for name, cid in CLASS_IDS.items():
        out[class_mask == cid] = _COLOURS[name]
    return out


def _tile(title: str, image: np.ndarray, class_mask: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    gap = np.full((image.shape[0], 4, 3), 255, dtype=np.uint8)
    body = np.hstack([gray, gap, colour_mask(class_mask)])
    label = np.full((_LABEL_H, body.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(label, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([label, body])


def _legend(width: int) -> np.ndarray:
    bar = np.full((30, width, 3), 255, dtype=np.uint8)
    x = 6
    for name, colour in _COLOURS.items():
        cv2.rectangle(bar, (x, 8), (x + 14, 22), colour, -1)
        cv2.putText(bar, name, (x + 18, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 30 + 9 * len(name)
    return bar


def make_contact_sheet(path: str | Path, size: int = 256, pixel_pitch_mm: float = 0.05,
                       seed: int = 3) -> Path:
    """Render the example scenes and write the sheet (PNG) to ``path``."""
    gen = SurfaceGenerator(size, size, pixel_pitch_mm)
    base = gen.light
    rows = [
        ("nominal brushed plate", gen.sample_scene(seed), base, False),
        ("scratch (groove on a curve)", gen.sample_scene(seed + 1, ("scratch", "scratch")), base, False),
        ("dents (smooth depressions)", gen.sample_scene(seed + 2, ("dent", "dent")), base, False),
        ("bumps (smooth raises)", gen.sample_scene(seed + 3, ("bump", "bump")), base, False),
        ("water stains (SPEC 6)", gen.sample_scene(seed + 4, ("scratch",)), base, True),
        ("same scene, no stains", gen.sample_scene(seed + 4, ("scratch",)), base, False),
        ("fingerprint", gen.sample_scene(seed + 5, (), fingerprints=1), base, False),
        ("sticker", gen.sample_scene(seed + 6, (), stickers=1), base, False),
        ("ring light rotated 90 deg", gen.sample_scene(seed + 7, ("scratch", "dent")),
         replace(base, rotation_deg=base.rotation_deg + 90), False),
        ("ring light scaled 2x", gen.sample_scene(seed + 7, ("scratch", "dent")),
         replace(base, scale=2.0 * base.scale), False),
        ("hexagonal ring light", gen.sample_scene(seed + 7, ("scratch", "dent")),
         replace(base, hexagonal=True, n_lamps=12), False),
        ("everything", gen.sample_scene(seed + 8, ("scratch", "dent", "bump"), 1, 1), base, True),
    ]
    tiles = []
    for title, scene, light, stains in rows:
        r = gen.render(scene, light=light, stains=stains)
        tiles.append(_tile(title, r.image, r.class_mask))
    sep = np.full((tiles[0].shape[0], 12, 3), 255, dtype=np.uint8)
    lines = [np.hstack([tiles[k], sep, tiles[k + 1]]) for k in range(0, len(tiles), 2)]
    spacer = np.full((8, lines[0].shape[1], 3), 255, dtype=np.uint8)
    body = np.vstack([x for line in lines for x in (line, spacer)] + [_legend(lines[0].shape[1])])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), body):
        raise OSError(f"could not write {path}")
    return path
