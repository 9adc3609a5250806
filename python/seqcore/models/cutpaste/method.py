"""CutPaste (docs/design.md §12): a classifier of nominal vs synthetic-defect patches, scored by GDE.

After Li et al. (CVPR 2021) as the kitchen-board study uses it. Images are converted to grey
and resized so the short side is ``resize_short_side``; training crops of ``patch`` pixels
are nominal (class 0) or carry one synthetic defect (``augment``: CutPaste, scar and the study's
shapes; 3-way: area defects vs thin ones as separate classes). The network (offline ImageNet
EfficientNet-Lite + MLP head) is trained with SGD (momentum 0.9), a cosine schedule and early
stopping on a fixed held-out synthetic set. A Gaussian (GDE) is then fitted to the embeddings of
nominal windows; a window's score is its Mahalanobis distance. Localisation: windows slide
with ``stride`` over the image, each pixel averages the windows covering it, the map is blurred
(σ) and resized to the input; the image score is the maximum inside the region of interest.
"""
from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from seqcore.features.extractor import resized_shape
from seqcore.models.anomaly_map import gaussian_blur, max_score
from seqcore.models.base import Prediction
from seqcore.models.cutpaste.augment import DEFECTS, synthetic_defect
from seqcore.models.cutpaste.gde import fit_gaussian, mahalanobis
from seqcore.models.cutpaste.network import CutPasteNet
from seqcore.models.cutpaste.schema import CUTPASTE_KIND, CutPasteMetadata
from seqcore.models.patchcore.method import PatchScores, _check_roi, _unpack
from seqcore.models.schema import versions
from seqcore.models.supervised.inputs import network_input, to_gray

THIN = ("scar", "study_scar", "arc_scar")  # the 3-way variant's third class
DEFAULT_THREADS = 2


@dataclass(frozen=True)
class CutPasteConfig:
    """Training settings of one ``fit`` (the study's: SGD 0.03, momentum 0.9, cosine, early stopping)."""

    epochs: int = 20
    steps_per_epoch: int = 16
    batch_size: int = 16  # nominal crops per step; as many defective ones per defect class
    learning_rate: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 3e-5
    patience: int = 4
    held_out: int = 64  # fixed synthetic crops for early stopping
    gde_windows: int = 2048  # nominal windows the Gaussian is fitted on (at most)

    def __post_init__(self) -> None:
        if min(self.epochs, self.steps_per_epoch, self.patience, self.held_out, self.gde_windows) < 1 \
                or self.batch_size < 2 or self.learning_rate <= 0:
            raise ValueError("epochs, steps, patience, held_out, gde_windows >= 1, batch_size >= 2, rate > 0")


@dataclass
class CutPasteReport:
    """What one ``fit`` did: epochs run, best held-out loss and accuracy, seconds."""

    epochs: int = 0
    held_out_loss: float = 0.0
    held_out_accuracy: float = 0.0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CutPaste:
    """Self-supervised anomaly detection: nominal vs synthetic-defect classifier + Gaussian density."""

    KIND = CUTPASTE_KIND

    def __init__(self, encoder: str = "lite0", *, resize_short_side: int = 256, patch: int = 64,
                 stride: int = 32, three_way: bool = False, defects: Sequence[str] = tuple(DEFECTS),
                 blur_sigma: float = 4.0, threshold: float | None = None, seed: int = 0, pretrained: bool = True,
                 device: str = "cpu") -> None:
        self.meta = CutPasteMetadata(encoder, resize_short_side, patch, stride, bool(three_way), list(defects),
                                     float(blur_sigma), threshold, int(seed))
        self.threshold = threshold
        self.blur_sigma = float(blur_sigma)
        self.device = torch.device(device)
        torch.manual_seed(self.meta.seed)
        self.network = CutPasteNet(encoder, 3 if three_way else 2, pretrained).to(self.device).eval()
        self.gaussian: tuple[np.ndarray, np.ndarray] | None = None
        self.history: list[dict[str, Any]] = []

    # -- data -------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Grey uint8 image resized so the short side is ``resize_short_side``."""
        gray = to_gray(np.asarray(image))
        h, w = resized_shape(*gray.shape, self.meta.resize_short_side)
        return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != gray.shape else gray

    def _crop(self, gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.meta.patch
        y, x = int(rng.integers(0, gray.shape[0] - p + 1)), int(rng.integers(0, gray.shape[1] - p + 1))
        return gray[y : y + p, x : x + p]

    def _label(self, name: str) -> int:
        return 2 if self.meta.three_way and name in THIN else 1

    def _batch(self, images: list[np.ndarray], rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n nominal crops and n defective ones per defect class (inputs, labels)."""
        inputs, labels = [], []
        classes = [[d for d in self.meta.defects if self._label(d) == c] for c in (1, 2)]
        for _ in range(n):
            crop = self._crop(images[int(rng.integers(len(images)))], rng)
            inputs.append(network_input(crop, stacking=False))
            labels.append(0)
            for c, names in enumerate(classes, start=1):
                if names:
                    inputs.append(network_input(synthetic_defect(crop, rng, names)[0], stacking=False))
                    labels.append(c)
        return torch.stack(inputs).to(self.device), torch.tensor(labels, device=self.device)

    # -- training ---------------------------------------------------------------------------
    def fit(self, data: Iterable, config: CutPasteConfig | None = None, progress: bool = True,
            threads: int | None = None) -> CutPasteReport:
        """Train the classifier on nominal images (arrays, Samples or (image, roi) pairs), then fit the Gaussian."""
        torch.set_num_threads(int(threads or os.environ.get("SEQCORE_THREADS", DEFAULT_THREADS)))
        config = config or CutPasteConfig()
        start = time.perf_counter()
        images = [self.prepare(_unpack(item)[0]) for item in data]
        if not images:
            raise ValueError("CutPaste training got no images")
        if min(min(im.shape) for im in images) < self.meta.patch:
            raise ValueError(f"images are smaller than the {self.meta.patch}-px patch after resizing")
        rng = np.random.default_rng(self.meta.seed)
        held_inputs, held_labels = self._batch(images, np.random.default_rng([self.meta.seed, 1]), config.held_out)
        optimizer = torch.optim.SGD(self.network.parameters(), lr=config.learning_rate, momentum=config.momentum,
                                    weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * config.steps_per_epoch)
        report = CutPasteReport(config=asdict(config))
        best, best_state, since = float("inf"), copy.deepcopy(self.network.state_dict()), 0
        loss_fn = nn.CrossEntropyLoss()
        for epoch in tqdm(range(config.epochs), desc="cutpaste train", unit="epoch", disable=not progress):
            self.network.train()
            total = 0.0
            for _ in range(config.steps_per_epoch):
                inputs, labels = self._batch(images, rng, config.batch_size)
                loss = loss_fn(self.network(inputs)[1], labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach())
            report.losses.append(total / config.steps_per_epoch)
            self.network.eval()
            with torch.no_grad():
                logits = self.network(held_inputs)[1]
                held = float(loss_fn(logits, held_labels))
            report.epochs = epoch + 1
            if held < best:
                best, best_state, since = held, copy.deepcopy(self.network.state_dict()), 0
                report.held_out_loss = held
                report.held_out_accuracy = float((logits.argmax(1) == held_labels).float().mean())
            else:
                since += 1
                if since >= config.patience:
                    break
        self.network.load_state_dict(best_state)
        self.network.eval()
        self._fit_gaussian(images, config.gde_windows, rng)
        report.seconds = time.perf_counter() - start
        entry = {k: v for k, v in report.to_dict().items() if k != "seconds"}
        self.history.append(json.loads(json.dumps(entry)))
        return report

    def _fit_gaussian(self, images: list[np.ndarray], limit: int, rng: np.random.Generator) -> None:
        windows = [w for im in images for w in self._windows(im)[1]]
        if len(windows) > limit:
            windows = [windows[i] for i in np.sort(rng.choice(len(windows), limit, replace=False))]
        self.gaussian = fit_gaussian(self._embed(windows))

    # -- inference --------------------------------------------------------------------------
    def _windows(self, gray: np.ndarray) -> tuple[list[tuple[int, int]], list[np.ndarray]]:
        """Top-left corners and crops of the sliding windows (the last row/column flush with the border)."""
        p, s = self.meta.patch, self.meta.stride
        h, w = gray.shape
        ys = sorted(set(range(0, max(h - p, 0) + 1, s)) | {max(h - p, 0)})
        xs = sorted(set(range(0, max(w - p, 0) + 1, s)) | {max(w - p, 0)})
        corners = [(y, x) for y in ys for x in xs]
        return corners, [gray[y : y + p, x : x + p] for y, x in corners]

    @torch.no_grad()
    def _embed(self, crops: list[np.ndarray], batch: int = 64) -> np.ndarray:
        out = []
        for first in range(0, len(crops), batch):
            inputs = torch.stack([network_input(c, stacking=False) for c in crops[first : first + batch]])
            out.append(self.network.embed(inputs.to(self.device)).float().cpu().numpy())
        return np.concatenate(out)

    def scores(self, image: Any, roi: np.ndarray | None = None) -> PatchScores:
        """Per-pixel overlap-averaged window scores at the prepared size (``calibrate`` re-renders them per σ)."""
        if self.gaussian is None:
            raise RuntimeError("CutPaste model is not fitted")
        array, sample_roi = _unpack(image)
        roi = _check_roi(roi if roi is not None else sample_roi, array.shape[:2])
        gray = self.prepare(array)
        if min(gray.shape) < self.meta.patch:
            raise ValueError(f"image is smaller than the {self.meta.patch}-px patch after resizing")
        corners, crops = self._windows(gray)
        values = mahalanobis(self._embed(crops), *self.gaussian)
        total, count = np.zeros(gray.shape, np.float64), np.zeros(gray.shape, np.float64)
        p = self.meta.patch
        for (y, x), v in zip(corners, values, strict=True):
            total[y : y + p, x : x + p] += v
            count[y : y + p, x : x + p] += 1
        return PatchScores((total / count).astype(np.float32), gray.shape, array.shape[:2], roi, None)

    def render(self, scores: PatchScores, blur_sigma: float | None = None) -> Prediction:
        """Blurred map at input resolution (zero outside the region of interest), its maximum, the verdict."""
        amap = gaussian_blur(scores.grid, self.blur_sigma if blur_sigma is None else blur_sigma)
        h, w = scores.input_shape
        if amap.shape != (h, w):
            amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
        if scores.roi is not None:
            amap[~scores.roi] = 0.0
        score = max_score(amap, scores.roi)
        return Prediction(amap, score, None if self.threshold is None else score >= self.threshold)

    def predict(self, image: Any, roi: np.ndarray | None = None) -> Prediction:
        """Anomaly map and image score of an array, Sample (ROI from its ground truth) or (image, roi) pair."""
        return self.render(self.scores(image, roi))

    # -- persistence ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        m = self.meta
        return CutPasteMetadata(m.encoder, m.resize_short_side, m.patch, m.stride, m.three_way, m.defects,
                                self.blur_sigma, self.threshold, m.seed, self.history, versions()).to_dict()

    def _tensors(self) -> dict[str, np.ndarray]:
        out = {k: v.detach().cpu().contiguous().numpy() for k, v in self.network.state_dict().items()
               if not k.endswith("num_batches_tracked")}
        if self.gaussian is not None:
            out["gde_mean"], out["gde_precision"] = self.gaussian
        return out

    def save(self, path: str | Path) -> None:
        """One safetensors file: network weights, the Gaussian (mean, precision) and the metadata."""
        from seqcore.io import save_model

        if self.gaussian is None:
            raise RuntimeError("CutPaste model is not fitted")
        save_model(path, self._tensors(), self.metadata(), coreset=False)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", **_: Any) -> CutPaste:
        """Read a file written by ``save``; ModelFileError on another kind, bad metadata or mismatched tensors."""
        from seqcore.io import ModelFileError, load_model

        tensors, meta = load_model(path, coreset=False)
        try:
            m = CutPasteMetadata.from_dict(meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        model = cls(m.encoder, resize_short_side=m.resize_short_side, patch=m.patch, stride=m.stride,
                    three_way=m.three_way, defects=m.defects, blur_sigma=m.blur_sigma, threshold=m.threshold,
                    seed=m.seed, pretrained=False, device=device)
        wanted = {k: v for k, v in model._tensors().items()}
        dim = model.network.classifier.in_features
        wanted |= {"gde_mean": np.zeros(dim, np.float32), "gde_precision": np.zeros((dim, dim), np.float32)}
        missing, unexpected = sorted(set(wanted) - set(tensors)), sorted(set(tensors) - set(wanted))
        wrong = [k for k in wanted if k in tensors and tuple(tensors[k].shape) != tuple(wanted[k].shape)]
        if missing or unexpected or wrong:
            raise ModelFileError(f"{path}: tensors do not fit a {m.encoder} CutPaste network (missing "
                                 f"{missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})")
        state = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items() if not k.startswith("gde_")}
        model.network.load_state_dict(state, strict=False)
        model.network.eval()
        model.gaussian = (np.array(tensors["gde_mean"]), np.array(tensors["gde_precision"]))
        model.history = m.history
        return model
