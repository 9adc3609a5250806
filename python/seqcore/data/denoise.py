"""Non-local-means denoising (OpenCV) as optional pre-processing, as in the kitchen-board study.

``nlm_denoise`` filters one uint8 image (grey or RGB; ``h`` is the filter strength in grey
levels); ``DenoisedDataset`` applies it to every sample of a dataset, so training, prediction
and the maps that evaluation reads all see the same denoised images (pass the same ``--nlm``).
"""
from __future__ import annotations

import cv2
import numpy as np

from seqcore.data.dataset import Dataset, Entry
from seqcore.data.sample import Sample


def nlm_denoise(image: np.ndarray, h: float = 10.0, template_window: int = 7, search_window: int = 21) -> np.ndarray:
    """The image filtered by OpenCV's fast non-local means (colour variant for (H, W, 3))."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"NLM denoising needs uint8 images, got {image.dtype}")
    if h <= 0 or template_window < 1 or search_window < template_window or not template_window % 2 \
            or not search_window % 2:
        raise ValueError(f"need h > 0 and odd windows with search >= template, got {h}, {template_window}, "
                         f"{search_window}")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(image), None, h, h, template_window,
                                               search_window)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    return cv2.fastNlMeansDenoising(np.ascontiguousarray(image), None, h, template_window, search_window)


class DenoisedDataset(Dataset):
    """A dataset whose sample images are NLM-denoised with strength ``h`` (annotations unchanged)."""

    def __init__(self, base: Dataset, h: float = 10.0) -> None:
        super().__init__(base.entries, base.defect_classes, base.impurity_classes, base.description,
                         base.on_error, base.image_mode)
        self.base, self.h = base, float(h)
        nlm_denoise(np.zeros((8, 8), np.uint8), self.h)  # a bad strength fails here, not mid-training

    def _sample(self, entry: Entry, image: np.ndarray) -> Sample:
        sample = self.base._sample(entry, image)
        return Sample(sample.name, nlm_denoise(sample.image, self.h), sample.label, lambda: sample.gt)
