"""Datasets (one layer for training, prediction and evaluation), annotations and augmentations."""
from seqcore.data.dataset import Dataset, Entry, SplitNotFoundError
from seqcore.data.formats.folder import FolderDataset
from seqcore.data.formats.labelme import LabelMeDataset, read_labelme
from seqcore.data.formats.magnetic_tile import MagneticTileDataset
from seqcore.data.formats.masks import MaskFolderDataset, read_binary_mask
from seqcore.data.formats.mvtec import MVTecDataset
from seqcore.data.formats.synthetic import SyntheticDataset, read_class_instance_mask
from seqcore.data.images import ImageReadError, read_image
from seqcore.data.open import DATASET_KINDS, SPLIT_KINDS, open_dataset
from seqcore.data.sample import GroundTruth, Sample

__all__ = [
    "DATASET_KINDS",
    "Dataset",
    "Entry",
    "FolderDataset",
    "GroundTruth",
    "ImageReadError",
    "LabelMeDataset",
    "MVTecDataset",
    "MagneticTileDataset",
    "MaskFolderDataset",
    "SPLIT_KINDS",
    "Sample",
    "SplitNotFoundError",
    "SyntheticDataset",
    "open_dataset",
    "read_binary_mask",
    "read_class_instance_mask",
    "read_image",
    "read_labelme",
]
