"""Datasets, annotations and augmentations."""
from seqcore.data.datasets import FolderDataset, ImageDataset, MagneticTileDataset, MVTecDataset, open_dataset
from seqcore.data.images import ImageReadError, read_image
from seqcore.data.sample import Sample

__all__ = [
    "FolderDataset",
    "ImageDataset",
    "ImageReadError",
    "MVTecDataset",
    "MagneticTileDataset",
    "Sample",
    "open_dataset",
    "read_image",
]
