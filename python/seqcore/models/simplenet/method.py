"""SimpleNet (docs/design.md §11): a feature adaptor and a patch discriminator on frozen backbone features.

After Liu et al., "SimpleNet" (CVPR 2023), as the ensemble thesis uses it. The patch features
come from seqcore's shared extractor (``FeatureConfig``: the same backbone, levels, pooling and
tiling as PatchCore). Features are standardised per channel with the training statistics; a
linear adaptor maps them, nominal adapted features are the "true" class and the same features
plus Gaussian noise (σ = ``noise_std`` in standardised units) the "fake" class; a 2-layer MLP
discriminator learns to separate them (truncated L1 loss, Adam). At inference the negated
discriminator logit is the patch score; the score grid becomes the anomaly map exactly as
PatchCore's (``models.anomaly_map``: nearest upsampling, Gaussian blur σ, resize) and the map
maximum inside the region of interest is the image score.

Training caches at most ``patches_per_image`` seeded random patches per image (bounded memory
on large surfaces). Seeded: the same seed, data and thread count give the same weights (CPU).
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from seqcore.features import FeatureConfig, FeatureExtractor, cell_means
from seqcore.models.anomaly_map import anomaly_map, max_score
from seqcore.models.base import Prediction
from seqcore.models.patchcore.method import PatchScores, _check_roi, _unpack
from seqcore.models.schema import versions
from seqcore.models.simplenet.networks import DEFAULT_HIDDEN, Adaptor, Discriminator, truncated_l1
from seqcore.models.simplenet.schema import SIMPLENET_KIND, SimpleNetMetadata

DEFAULT_THREADS = 2  # the CPUs this project shares; torch's default (all cores) oversubscribes them


@dataclass(frozen=True)
class SimpleNetConfig:
    """Optimisation settings of one ``fit`` (SimpleNet's: Adam 2e-4 for the discriminator, 1e-4 for the adaptor)."""

    epochs: int = 20
    batch_size: int = 1024
    patches_per_image: int | None = 512  # None: every patch of every image
    discriminator_lr: float = 2e-4
    adaptor_lr: float = 1e-4
    weight_decay: float = 1e-5
    margin: float = 0.5

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}")
        if self.patches_per_image is not None and self.patches_per_image < 1:
            raise ValueError(f"patches_per_image must be >= 1 or None, got {self.patches_per_image}")
        if min(self.discriminator_lr, self.adaptor_lr) <= 0 or self.weight_decay < 0 or self.margin <= 0:
            raise ValueError("learning rates and margin must be > 0, weight_decay >= 0")


@dataclass
class SimpleNetReport:
    """What one ``fit`` did: images, cached patches, the loss per epoch, seconds."""

    images: int = 0
    patches: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SimpleNet:
    """Anomaly segmentation by a discriminator between adapted nominal features and noised ones."""

    KIND = SIMPLENET_KIND

    def __init__(self, features: FeatureConfig | None = None, *, hidden: int = DEFAULT_HIDDEN,
                 noise_std: float = 0.1, blur_sigma: float = 2.0, threshold: float | None = None,
                 seed: int = 0, device: str = "cpu", bf16: bool = False) -> None:
        if features is not None and not isinstance(features, FeatureConfig):
            raise TypeError(f"features must be a FeatureConfig, got {type(features).__name__}")
        if hidden < 1 or not noise_std > 0 or blur_sigma < 0:
            raise ValueError(f"need hidden >= 1, noise_std > 0, blur_sigma >= 0; "
                             f"got {hidden}, {noise_std}, {blur_sigma}")
        self.config = features or FeatureConfig()
        self.hidden, self.noise_std, self.blur_sigma = int(hidden), float(noise_std), float(blur_sigma)
        self.threshold = threshold
        self.seed = int(seed)
        self.device = torch.device(device)
        torch.manual_seed(self.seed)  # a random-weight backbone (pretrained=False), then the heads
        self.extractor = FeatureExtractor(self.config, device=device, bf16=bf16)
        dim = self.extractor.dim
        self.adaptor = Adaptor(dim).to(self.device).eval()
        self.discriminator = Discriminator(dim, self.hidden).to(self.device).eval()
        self.mean = torch.zeros(dim, device=self.device)
        self.std = torch.ones(dim, device=self.device)
        self.history: list[dict[str, Any]] = []

    # -- training ---------------------------------------------------------------------------
    def _keep_mask(self, prepared: np.ndarray, roi: np.ndarray | None) -> np.ndarray | None:
        """Grid cells (mostly) inside the region of interest, as PatchCore trains on."""
        if roi is None:
            return None
        small = cv2.resize(roi.astype(np.uint8), (prepared.shape[1], prepared.shape[0]),
                           interpolation=cv2.INTER_NEAREST)
        return cell_means(small.astype(np.float32), self.extractor.stride) >= 0.5

    def training_patches(self, data: Iterable, patches_per_image: int | None, progress: bool = True) -> np.ndarray:
        """(n, d) float32 nominal patch features: per image, at most ``patches_per_image`` seeded random ones."""
        rng = np.random.default_rng(self.seed)
        chunks = []
        total = len(data) if hasattr(data, "__len__") else None
        for item in tqdm(data, total=total, desc="simplenet features", unit="img", disable=not progress):
            image, roi = _unpack(item)
            roi = _check_roi(roi, np.asarray(image).shape[:2])
            prepared = self.extractor.prepare(image)
            grid = self.extractor.extract(image)
            feats = grid.reshape(-1, grid.shape[-1])
            keep = self._keep_mask(prepared, roi)
            if keep is not None:
                feats = feats[keep.reshape(-1)]
            if patches_per_image is not None and len(feats) > patches_per_image:
                feats = feats[np.sort(rng.choice(len(feats), patches_per_image, replace=False))]
            chunks.append(feats)
        if not chunks or not sum(len(c) for c in chunks):
            raise ValueError("SimpleNet training got no images (or no patch inside their regions of interest)")
        return np.concatenate(chunks)

    def fit(self, data: Iterable, config: SimpleNetConfig | None = None, progress: bool = True,
            threads: int | None = None) -> SimpleNetReport:
        """Train adaptor and discriminator on nominal images (arrays, Samples or (image, roi) pairs).

        A second call starts again from the current weights (fine-tuning) but keeps the first
        call's standardisation statistics.
        """
        torch.set_num_threads(int(threads or os.environ.get("SEQCORE_THREADS", DEFAULT_THREADS)))
        config = config or SimpleNetConfig()
        start = time.perf_counter()
        patches = torch.from_numpy(self.training_patches(data, config.patches_per_image, progress)).to(self.device)
        if not self.history:
            self.mean = patches.mean(0)
            self.std = patches.std(0).clamp_min(1e-6)
        patches = (patches - self.mean) / self.std
        losses = self._train(patches, config, progress)
        report = SimpleNetReport(images=int(total_images(data)), patches=len(patches), losses=losses,
                                 seconds=time.perf_counter() - start, config=asdict(config))
        entry = {k: v for k, v in report.to_dict().items() if k != "seconds"}  # the same data give the same bytes
        self.history.append(json.loads(json.dumps(entry)))
        return report

    def _train(self, patches: torch.Tensor, config: SimpleNetConfig, progress: bool) -> list[float]:
        """Epochs of shuffled batches; returns the mean loss of each epoch."""
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        disc_opt = torch.optim.Adam(self.discriminator.parameters(), lr=config.discriminator_lr,
                                    weight_decay=config.weight_decay)
        adapt_opt = torch.optim.AdamW(self.adaptor.parameters(), lr=config.adaptor_lr)
        self.adaptor.train()
        self.discriminator.train()
        losses = []
        n = len(patches)
        batch = min(config.batch_size, n)
        for _ in tqdm(range(config.epochs), desc="simplenet train", unit="epoch", disable=not progress):
            order = torch.randperm(n, generator=generator, device=self.device)
            total, steps = 0.0, 0
            for first in range(0, n - batch + 1, batch):  # full batches only (BatchNorm needs > 1 row)
                true = self.adaptor(patches[order[first : first + batch]])
                noise = torch.randn(true.shape, generator=generator, device=self.device) * self.noise_std
                logits = self.discriminator(torch.cat([true, true + noise]))
                loss = truncated_l1(logits[:batch], logits[batch:], config.margin)
                disc_opt.zero_grad(set_to_none=True)
                adapt_opt.zero_grad(set_to_none=True)
                loss.backward()
                disc_opt.step()
                adapt_opt.step()
                total, steps = total + float(loss.detach()), steps + 1
            losses.append(total / max(steps, 1))
        self.adaptor.eval()
        self.discriminator.eval()
        return losses

    # -- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def score_grid(self, image: np.ndarray) -> np.ndarray:
        """(gh, gw) float32 patch scores of a raw image: the negated discriminator logit."""
        grid = self.extractor.extract(image)
        feats = (torch.from_numpy(grid.reshape(-1, grid.shape[-1])).to(self.device) - self.mean) / self.std
        logits = torch.cat([self.discriminator(self.adaptor(c)) for c in feats.split(8192)])
        return (-logits).reshape(grid.shape[:2]).float().cpu().numpy()

    def scores(self, image: Any, roi: np.ndarray | None = None) -> PatchScores:
        """Everything ``predict`` needs before the blur (``calibrate`` uses it to try several σ)."""
        array, sample_roi = _unpack(image)
        roi = _check_roi(roi if roi is not None else sample_roi, array.shape[:2])
        prepared_shape = self.extractor.prepare(array).shape[:2]
        return PatchScores(self.score_grid(array), prepared_shape, array.shape[:2], roi, None)

    def render(self, scores: PatchScores, blur_sigma: float | None = None) -> Prediction:
        """Anomaly map at input resolution (zero outside the region of interest), its maximum there and the verdict."""
        sigma = self.blur_sigma if blur_sigma is None else blur_sigma
        amap = anomaly_map(scores.grid, self.extractor.stride, scores.prepared_shape, scores.input_shape, sigma)
        if scores.roi is not None:
            amap[~scores.roi] = amap[scores.roi].min() if scores.roi.any() else 0.0
        score = max_score(amap, scores.roi)
        return Prediction(amap, score, None if self.threshold is None else score >= self.threshold)

    def predict(self, image: Any, roi: np.ndarray | None = None) -> Prediction:
        """Anomaly map and image score of an array, Sample (ROI from its ground truth) or (image, roi) pair."""
        return self.render(self.scores(image, roi))

    # -- persistence ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Everything besides the weights that is needed to reproduce predictions (JSON-ready)."""
        return SimpleNetMetadata(self.config, self.extractor.dim, self.hidden, self.noise_std, self.blur_sigma,
                                 self.threshold, self.seed, self.history, versions()).to_dict()

    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {"feature_mean": self.mean, "feature_std": self.std}
        out |= {f"adaptor.{k}": v for k, v in self.adaptor.state_dict().items()}
        out |= {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()
                if not k.endswith("num_batches_tracked")}
        if self.extractor.projection is not None:
            out["projection"] = torch.from_numpy(self.extractor.projection)
        return out

    def save(self, path: str | Path) -> None:
        """One safetensors file: standardisation, adaptor and discriminator weights (+ projection) and metadata."""
        from seqcore.io import save_model

        tensors = {k: v.detach().cpu().contiguous().numpy() for k, v in self._tensors().items()}
        save_model(path, tensors, self.metadata(), coreset=False)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", bf16: bool = False, **_: Any) -> SimpleNet:
        """Read a file written by ``save``; ModelFileError on another kind, bad metadata or mismatched tensors."""
        from seqcore.features import BackboneError
        from seqcore.io import ModelFileError, load_model

        tensors, meta = load_model(path, coreset=False)
        try:
            schema = SimpleNetMetadata.from_dict(meta)
            model = cls(schema.features, hidden=schema.hidden, noise_std=schema.noise_std,
                        blur_sigma=schema.blur_sigma, threshold=schema.threshold, seed=schema.seed,
                        device=device, bf16=bf16)
        except (BackboneError, ValueError) as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        if "projection" in tensors:
            model.extractor = FeatureExtractor(schema.features, device=device, bf16=bf16,
                                               projection=tensors["projection"])
        wanted = model._tensors()
        missing, unexpected = sorted(set(wanted) - set(tensors)), sorted(set(tensors) - set(wanted))
        wrong = [k for k in wanted if k in tensors and tuple(tensors[k].shape) != tuple(wanted[k].shape)]
        if missing or unexpected or wrong or model.extractor.dim != schema.feature_dim:
            raise ModelFileError(f"{path}: tensors do not fit feature_dim {schema.feature_dim} / hidden "
                                 f"{schema.hidden} (missing {missing[:3]}, unexpected {unexpected[:3]}, "
                                 f"wrong shape {wrong[:3]})")
        state = {k: torch.from_numpy(np.array(v)).to(model.device) for k, v in tensors.items()}
        model.mean, model.std = state["feature_mean"], state["feature_std"]
        model.adaptor.load_state_dict({k.removeprefix("adaptor."): v for k, v in state.items()
                                       if k.startswith("adaptor.")})
        model.discriminator.load_state_dict({k.removeprefix("discriminator."): v for k, v in state.items()
                                             if k.startswith("discriminator.")}, strict=False)
        model.history = schema.history
        return model


def total_images(data: Iterable) -> int:
    """Number of images of a sized dataset or list (0 when it has no length)."""
    return len(data) if hasattr(data, "__len__") else 0
