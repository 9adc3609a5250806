"""Procedural synthetic data: Perlin noise, water stains (SPEC §6), metal surfaces, datasets."""
from seqcore.synth.perlin import fractal_noise2d, perlin2d, perlin3d
from seqcore.synth.water_stains import WaterStainParams, stain_field, water_stains

__all__ = [
    "WaterStainParams",
    "fractal_noise2d",
    "perlin2d",
    "perlin3d",
    "stain_field",
    "water_stains",
]
