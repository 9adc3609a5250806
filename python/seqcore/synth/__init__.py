"""Procedural synthetic data: Perlin noise, water stains (docs/design.md §6), metal surfaces, datasets."""
from seqcore.synth.dataset import DatasetConfig, write_dual_dataset
from seqcore.synth.perlin import fractal_noise2d, perlin2d, perlin3d
from seqcore.synth.shading import Material, RingLight
from seqcore.synth.surface import CameraParams, Scene, SurfaceGenerator, SurfaceParams
from seqcore.synth.water_stains import WaterStainParams, stain_field, water_stains

__all__ = [
    "CameraParams",
    "DatasetConfig",
    "Material",
    "RingLight",
    "Scene",
    "SurfaceGenerator",
    "SurfaceParams",
    "WaterStainParams",
    "fractal_noise2d",
    "perlin2d",
    "perlin3d",
    "stain_field",
    "water_stains",
    "write_dual_dataset",
]
