"""Dual synthetic datasets: clean and water-stained renderings of the same scenes.

Layout (see the shared brief): ``OUT/<variant>/<split>/{images,masks,params}/<name>.*`` and
``OUT/<variant>/classes.json``; masks are 16-bit PNGs holding class id · 1000 + instance id.
Variants (named after the paper's scenarios): ``Synth`` (no stains) and ``Synth_WS`` (water
stains, the only difference, only inside the stain masks), plus the docs/design.md §7 light variants
of both (``*_rot90``: ring light rotated 90°, ``*_scale2``: ring radius doubled). Train splits are nominal (no defects);
val/test carry scratches, dents and bumps; water stains are impurities (negatives).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from seqcore.synth.shading import RingLight
from seqcore.synth.surface import (
    CLASS_IDS,
    DEFECT_CLASSES,
    IMPURITY_CLASSES,
    Rendering,
    SurfaceGenerator,
)
from seqcore.synth.water_stains import WaterStainParams

__all__ = ["DatasetConfig", "SPLITS", "variant_names", "write_dual_dataset"]

SPLITS = ("train", "val", "test")
_SPLIT_CODES = {name: k for k, name in enumerate(SPLITS)}


@dataclass(frozen=True)
class DatasetConfig:
    """Sizes, image geometry and content of a dual dataset."""

    n_train: int = 60
    n_val: int = 20
    n_test: int = 40
    height: int = 256
    width: int = 256
    pixel_pitch_mm: float = 0.06
    seed: int = 0
    light_variants: bool = True
    defective_fraction: float = 0.75  # share of val/test images with 1..max_defects defects
    max_defects: int = 2
    fingerprint_probability: float = 0.0  # impurities shared by both variants
    sticker_probability: float = 0.0
    stains: WaterStainParams = WaterStainParams(
        radius_mm=1.4, radius_spread_mm=0.5, amplitude_mm=0.35, alpha=-0.25, cell_size_mm=4.5,
        probability=0.35,
    )

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ValueError("split sizes must be >= 0")
        if not 0.0 <= self.defective_fraction <= 1.0 or self.max_defects < 1:
            raise ValueError("defective_fraction must be in [0, 1] and max_defects >= 1")
        for p in (self.fingerprint_probability, self.sticker_probability):
            if not 0.0 <= p <= 1.0:
                raise ValueError("impurity probabilities must be in [0, 1]")

    def split_size(self, split: str) -> int:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]


def variant_names(light_variants: bool = True) -> list[str]:
    """Variant folder names written for a configuration."""
    bases = ["Synth", "Synth_WS"]
    if not light_variants:
        return bases
    return bases + [f"{b}_{suffix}" for b in bases for suffix in ("rot90", "scale2")]


def _variant_settings(base: RingLight, light_variants: bool) -> dict[str, tuple[RingLight, bool]]:
    lights = {"": base}
    if light_variants:
        lights["_rot90"] = replace(base, rotation_deg=base.rotation_deg + 90.0)
        lights["_scale2"] = replace(base, scale=base.scale * 2.0)
    return {
        f"{stem}{suffix}": (light, stem == "Synth_WS")
        for suffix, light in lights.items()
        for stem in ("Synth", "Synth_WS")
    }


def _scene_seed(seed: int, split: str, index: int) -> int:
    """Seed of one scene, shared by every variant of it."""
    return int(np.random.SeedSequence([int(seed), _SPLIT_CODES[split], int(index)]).generate_state(1)[0])


def _scene_content(config: DatasetConfig, split: str, scene_seed: int) -> dict[str, Any]:
    """Defects and impurities of one scene (drawn from its own stream of the scene seed)."""
    rng = np.random.default_rng([scene_seed, 99])
    defects: tuple[str, ...] = ()
    if split != "train" and rng.random() < config.defective_fraction:
        n = int(rng.integers(1, config.max_defects + 1))
        defects = tuple(str(c) for c in rng.choice(DEFECT_CLASSES, size=n))
    return {
        "defects": defects,
        "fingerprints": int(rng.random() < config.fingerprint_probability),
        "stickers": int(rng.random() < config.sticker_probability),
    }


def classes_document() -> dict[str, Any]:
    """Content of ``classes.json``: defect and impurity names and their mask class ids."""
    return {"defects": list(DEFECT_CLASSES), "impurities": list(IMPURITY_CLASSES), "ids": dict(CLASS_IDS)}


def _write(folder: Path, name: str, rendering: Rendering) -> None:
    for sub, array in (("images", rendering.image), ("masks", rendering.encoded_mask())):
        path = folder / sub / f"{name}.png"
        if not cv2.imwrite(str(path), array):
            raise OSError(f"could not write {path}")
    (folder / "params" / f"{name}.json").write_text(json.dumps(rendering.params, indent=1))


def write_dual_dataset(
    out: str | Path,
    config: DatasetConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Render every split of every variant into ``out``; returns the summary also written
    to ``out/dataset.json``."""
    config = config or DatasetConfig()
    out = Path(out)
    variants = variant_names(config.light_variants)
    for v in variants:
        if (out / v).exists() and any((out / v).iterdir()) and not overwrite:
            raise FileExistsError(f"{out / v} exists and is not empty (use overwrite)")
    gen = SurfaceGenerator(config.height, config.width, config.pixel_pitch_mm, stains=config.stains)
    settings = _variant_settings(gen.light, config.light_variants)
    for v in variants:
        (out / v).mkdir(parents=True, exist_ok=True)
        (out / v / "classes.json").write_text(json.dumps(classes_document(), indent=1))
        for split in SPLITS:
            for sub in ("images", "masks", "params"):
                (out / v / split / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(s, i) for s in SPLITS for i in range(config.split_size(s))]
    counts = {v: {s: {"images": 0, "defective": 0} for s in SPLITS} for v in variants}
    for split, index in tqdm(jobs, desc="synth", unit="scene", disable=not progress):
        scene_seed = _scene_seed(config.seed, split, index)
        scene = gen.sample_scene(scene_seed, **_scene_content(config, split, scene_seed))
        name = f"{split}_{index:04d}"
        for variant, rendering in gen.render_variants(scene, settings).items():
            rendering.params.update(variant=variant, split=split, name=name)
            _write(out / variant / split, name, rendering)
            counts[variant][split]["images"] += 1
            counts[variant][split]["defective"] += int(bool(scene.defects))
    summary = {"config": asdict(config), "variants": variants, "counts": counts}
    (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    return summary
