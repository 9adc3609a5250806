"""Datasets, annotations and augmentations."""
from seqcore.data.sample import Sample

__all__ = ["Sample"]
