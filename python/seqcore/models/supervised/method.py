"""SupervisedSegmenter: a U-Net, FCN or DeepLabV3+ trained on labelled defect masks (docs/design.md §10).

The Method protocol's fit/predict/save/load: ``fit`` trains on annotated images (real or
synthetic; impurities are background), ``predict`` gives the defect probability per pixel as
the anomaly map and its maximum as the image score, the threshold comes from ``calibrate`` on
validation data like every method's. The model file holds the network weights and the
validated metadata (``schema.SupervisedMetadata``).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqcore.data.sample import Sample
from seqcore.models.anomaly_map import max_score
from seqcore.models.base import Prediction
from seqcore.models.schema import versions
from seqcore.models.supervised.inputs import network_input, to_gray
from seqcore.models.supervised.networks import ARCHS, build_network
from seqcore.models.supervised.schema import SUPERVISED_KIND, SupervisedMetadata
from seqcore.models.supervised.sources import LabelledImage, labelled_images
from seqcore.models.supervised.training import TrainConfig, TrainReport, pooled_f1, train

DEFAULT_THREADS = 2  # the CPUs this project shares; torch's default (all cores) oversubscribes them


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads (default: ``SEQCORE_THREADS`` or 2) for torch."""
    torch.set_num_threads(int(threads or os.environ.get("SEQCORE_THREADS", DEFAULT_THREADS)))


class SupervisedSegmenter:
    """Binary defect segmentation by a supervised network on an offline EfficientNet-Lite encoder."""

    KIND = SUPERVISED_KIND

    def __init__(self, arch: str = "unet", encoder: str = "lite0", *, stacking: bool = True, pretrained: bool = True,
                 threshold: float | None = None, seed: int = 0, device: str = "cpu") -> None:
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
        self.arch, self.encoder, self.stacking = arch, encoder, bool(stacking)
        self.threshold = threshold
        self.seed = int(seed)
        self.device = torch.device(device)
        torch.manual_seed(self.seed)  # the heads' initial weights
        self.network: nn.Module = build_network(arch, encoder, pretrained).to(self.device).eval()
        self.history: list[dict[str, Any]] = []

    # -- training ---------------------------------------------------------------------------
    def fit(self, data: Iterable[Sample] | list[LabelledImage],
            val: Iterable[Sample] | list[LabelledImage] | None = None, config: TrainConfig | None = None,
            progress: bool = True, threads: int | None = None) -> TrainReport:
        """Train on annotated images (the second and later calls fine-tune at the lower rate).

        ``val`` drives the plateau schedule and early stopping (default: the training images
        themselves, which only makes sense for smoke tests). Samples are converted with
        ``sources.labelled_images`` (defect classes from the dataset).
        """
        set_threads(threads)
        images = _labelled(data)
        val_images = images if val is None else _labelled(val)
        report = train(self.network, images, val_images, config or TrainConfig(), self.stacking, self.seed,
                       self._val_f1, finetune=bool(self.history), progress=progress)
        self.network.eval()
        # no timings in the file: the same seed and data give the same bytes
        entry = {k: v for k, v in report.to_dict().items() if k != "seconds"}
        self.history.append(json.loads(json.dumps(entry)))  # as the file will hold it (tuples become lists)
        return report

    def _val_f1(self, network: nn.Module, images: list[LabelledImage]) -> float:
        return pooled_f1([self._probabilities(im.gray) for im in images], images)

    # -- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def _probabilities(self, gray: np.ndarray) -> np.ndarray:
        """(H, W) float32 defect probability of a grey image, zero-padded to multiples of 32 for the network."""
        was_training = self.network.training
        self.network.eval()
        h, w = gray.shape
        padded = np.zeros((-(-h // 32) * 32, -(-w // 32) * 32), np.uint8)
        padded[:h, :w] = gray
        logits = self.network(network_input(padded, self.stacking)[None].to(self.device))
        self.network.train(was_training)
        return torch.sigmoid(logits)[0, 0, :h, :w].float().cpu().numpy()

    def predict(self, image: np.ndarray | Sample, roi: np.ndarray | None = None) -> Prediction:
        """Defect probability map at input resolution (zero outside the region of interest), its maximum as score."""
        if isinstance(image, Sample):
            if roi is None and image.gt is not None:
                roi = image.gt.roi
            image = image.image
        amap = self._probabilities(to_gray(image))
        if roi is not None:
            roi = np.asarray(roi, bool)
            if roi.shape != amap.shape:
                raise ValueError(f"region-of-interest mask has shape {roi.shape}, image has {amap.shape}")
            amap[~roi] = 0.0
        score = max_score(amap, roi)
        return Prediction(amap, score, None if self.threshold is None else score >= self.threshold)

    # -- persistence ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Everything besides the weights that is needed to reproduce predictions (JSON-ready)."""
        return SupervisedMetadata(self.arch, self.encoder, self.stacking, self.threshold, self.seed,
                                  self.history, versions()).to_dict()

    def save(self, path: str | Path) -> None:
        """One safetensors file: the network's state dict (names as torch gives them, without the
        batch-norm step counters, which inference does not use) and the metadata."""
        from seqcore.io import save_model

        tensors = {k: v.detach().cpu().contiguous().numpy() for k, v in _weights(self.network).items()}
        save_model(path, tensors, self.metadata(), coreset=False)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", **_: Any) -> SupervisedSegmenter:
        """Read a file written by ``save``; ModelFileError on another kind, bad metadata or mismatched weights."""
        from seqcore.io import ModelFileError, load_model

        tensors, meta = load_model(path, coreset=False)
        try:
            schema = SupervisedMetadata.from_dict(meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        model = cls(schema.arch, schema.encoder, stacking=schema.stacking, pretrained=False,
                    threshold=schema.threshold, seed=schema.seed, device=device)
        wanted = _weights(model.network)
        missing = sorted(set(wanted) - set(tensors))
        unexpected = sorted(set(tensors) - set(wanted))
        wrong = [k for k in wanted if k in tensors and tuple(tensors[k].shape) != tuple(wanted[k].shape)]
        if missing or unexpected or wrong:
            raise ModelFileError(f"{path}: weights do not fit a {schema.arch}/{schema.encoder} network "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})")
        model.network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}, strict=False)
        model.network.eval()
        model.history = schema.history
        return model


def _weights(network: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without batch-norm ``num_batches_tracked`` counters."""
    return {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}


def _labelled(data: Iterable) -> list[LabelledImage]:
    """Training images from LabelledImages as they are, else via ``labelled_images``."""
    items = data if hasattr(data, "defect_classes") else list(data)
    if isinstance(items, list) and items and all(isinstance(x, LabelledImage) for x in items):
        return items
    return labelled_images(items)
