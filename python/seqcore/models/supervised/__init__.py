"""Supervised defect segmentation (U-Net, FCN, DeepLabV3+) on offline EfficientNet-Lite encoders (design.md §10)."""
from seqcore.models.supervised.method import SupervisedSegmenter
from seqcore.models.supervised.networks import ARCHS, build_network
from seqcore.models.supervised.sources import LabelledImage, labelled_images
from seqcore.models.supervised.training import TrainConfig, TrainReport

__all__ = ["ARCHS", "LabelledImage", "SupervisedSegmenter", "TrainConfig", "TrainReport", "build_network",
           "labelled_images"]
