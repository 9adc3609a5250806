"""Patch features from frozen ImageNet backbones (docs/design.md §3), with tiling for large images."""
from seqcore.features.backbones import BackboneError, create_backbone, lite0_weights_path
from seqcore.features.config import FeatureConfig
from seqcore.features.extractor import FeatureExtractor, FeatureTile, as_float_image, cell_means, pooled_patches

__all__ = [
    "BackboneError",
    "FeatureConfig",
    "FeatureExtractor",
    "FeatureTile",
    "as_float_image",
    "cell_means",
    "create_backbone",
    "lite0_weights_path",
    "pooled_patches",
]
