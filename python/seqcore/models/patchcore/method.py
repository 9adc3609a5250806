"""SequentialPatchCore (SPEC §2–§4): a bounded coreset of nominal patch features, scored by nearest neighbour.

Training offers every patch of every nominal image to the coreset through a strategy object
(``Sequential`` by default, ``Greedy`` for the original PatchCore baseline), so peak memory
does not grow with the training set; the features, capacity and scoring are the same for both.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from seqcore.data.sample import Sample
from seqcore.features import FeatureConfig, FeatureExtractor, cell_means
from seqcore.features.memory import release_freed_memory
from seqcore.models.anomaly_map import anomaly_map, max_score
from seqcore.models.base import Prediction
from seqcore.models.patchcore.strategies import (
    CoresetSpec,
    FitReport,
    PatchSource,
    Sequential,
    Strategy,
    greedy_projection_dim,
    strategy_named,
)
from seqcore.models.schema import PATCHCORE_KIND, PatchCoreMetadata, versions

ImageLike = np.ndarray | Sample
Augmentation = Callable[[np.ndarray, "np.ndarray | None"], "tuple[np.ndarray, np.ndarray | None]"]


def _unpack(item: ImageLike | tuple) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, roi) from a Sample (roi from its ground truth), an array or an (image, roi) pair."""
    if isinstance(item, Sample):
        roi = item.gt.roi if item.gt is not None else None
        return item.image, roi
    if isinstance(item, tuple) and len(item) == 2:
        return np.asarray(item[0]), None if item[1] is None else np.asarray(item[1], dtype=bool)
    return np.asarray(item), None


def _check_roi(roi: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if roi is None:
        return None
    roi = np.asarray(roi)
    if roi.shape != tuple(shape):
        raise ValueError(f"region-of-interest mask has shape {roi.shape}, image has {tuple(shape)}")
    return roi.astype(bool)


class SequentialPatchCore:
    """Anomaly segmentation with a bounded coreset of nominal patch features (see module docstring).

    ``features`` decides the patch vectors (backbone, levels, pooling, resizing, projection,
    tiling); the other settings decide training and scoring.
    """

    KIND = PATCHCORE_KIND

    def __init__(
        self,
        features: FeatureConfig | None = None,
        *,
        capacity: int = 2048,
        strategy: Strategy | None = None,
        blur_sigma: float = 2.0,
        min_patch_brightness: float | None = None,
        threshold: float | None = None,
        seed: int = 0,
        device: str = "cpu",
        coreset_device: str = "cpu",
        bf16: bool = False,
    ) -> None:
        if features is not None and not isinstance(features, FeatureConfig):
            raise TypeError(f"features must be a FeatureConfig, got {type(features).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if blur_sigma < 0 or not math.isfinite(blur_sigma):
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma}")
        if min_patch_brightness is not None and not 0.0 <= min_patch_brightness <= 1.0:
            raise ValueError(f"min_patch_brightness is a fraction of full scale in [0, 1], got {min_patch_brightness}")
        self.config = features or FeatureConfig()
        self.capacity = int(capacity)
        self.strategy: Strategy = strategy or Sequential()
        self.blur_sigma = float(blur_sigma)
        self.min_patch_brightness = min_patch_brightness
        self.threshold = threshold
        self.device = device
        self.coreset_device = coreset_device
        self.bf16 = bf16
        self.seed = seed
        self.coreset = None  # SequentialCoreset once fitted or loaded
        self.history: list[dict[str, Any]] = []
        self._extractor: FeatureExtractor | None = None
        self._projection: np.ndarray | None = None

    @classmethod
    def from_coreset(
        cls,
        coreset: Any,
        features: FeatureConfig | FeatureExtractor,
        *,
        projection: np.ndarray | None = None,
        history: Sequence[dict[str, Any]] = (),
        **settings: Any,
    ) -> SequentialPatchCore:
        """A fitted model around a trained coreset (its capacity is the model's).

        ``features`` is the extractor that made the coreset's vectors (shared, with its device),
        or their FeatureConfig plus the stored ``projection`` matrix when one was used.
        ``settings`` are the other constructor keywords.
        """
        if "capacity" in settings:
            raise TypeError("from_coreset takes the capacity from the coreset")
        if isinstance(features, FeatureExtractor):
            if projection is not None or {"device", "bf16"} & set(settings):
                raise TypeError("projection, device and bf16 come from the given extractor")
            model = cls(features.config, capacity=coreset.capacity, device=str(features.device),
                        bf16=features.bf16, **settings)
            model._extractor, model._projection = features, features.projection
        else:
            model = cls(features, capacity=coreset.capacity, **settings)
            model._projection = projection
        if coreset.dim != model.dim:
            raise ValueError(
                f"coreset has d={coreset.dim}, the features (backbone {model.config.backbone}) give d={model.dim}"
            )
        model.coreset = coreset
        model.history = list(history)
        return model

    # -- features ---------------------------------------------------------------------------
    @property
    def extractor(self) -> FeatureExtractor:
        """The feature extractor, built on first use (loading the backbone takes a moment)."""
        if self._extractor is None:
            self._extractor = FeatureExtractor(self.config, self.device, self.bf16, self._projection)
            self._projection = self._extractor.projection
        return self._extractor

    @property
    def dim(self) -> int:
        return self.extractor.dim

    def _patch_keep_mask(self, prepared: np.ndarray, roi: np.ndarray | None) -> np.ndarray | None:
        """Grid cells usable for training: bright enough and (mostly) inside the region of interest."""
        keep = None
        stride = self.extractor.stride
        if self.min_patch_brightness is not None:
            keep = cell_means(prepared.mean(axis=2), stride) >= self.min_patch_brightness
        if roi is not None:
            roi_small = cv2.resize(
                roi.astype(np.uint8), (prepared.shape[1], prepared.shape[0]), interpolation=cv2.INTER_NEAREST
            )
            inside = cell_means(roi_small.astype(np.float32), stride) >= 0.5
            keep = inside if keep is None else keep & inside
        return keep

    def image_patches(self, image: np.ndarray, roi: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Training patch vectors (n, d) of one image, tile by tile, after the brightness/ROI filter."""
        roi = _check_roi(roi, image.shape[:2])
        prepared = self.extractor.prepare(image)
        keep = self._patch_keep_mask(prepared, roi)
        for tile in self.extractor.iter_tiles(prepared):
            h, w = tile.shape
            feats = tile.features.reshape(h * w, -1)
            if keep is not None:
                feats = feats[keep[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w].reshape(-1)]
            yield feats

    # -- training ---------------------------------------------------------------------------
    def _epoch_patches(
        self, data: Iterable, augment: Augmentation | None, desc: str, progress: bool
    ) -> Iterator[np.ndarray]:
        """All training patches of one pass over ``data`` (augmented when asked), image by image."""
        total = len(data) if hasattr(data, "__len__") else None
        for item in tqdm(data, total=total, desc=desc, unit="img", disable=not progress, leave=False):
            image, roi = _unpack(item)
            if augment is not None:
                image, mask = augment(image, None if roi is None else roi.astype(np.uint8))
                roi = None if mask is None else mask.astype(bool)
            yield from self.image_patches(image, roi)
            release_freed_memory()

    def fit(
        self,
        data: Iterable,
        epochs: int = 5,
        augment: Augmentation | None = None,
        progress: bool = True,
    ) -> FitReport:
        """Train (or fine-tune, when already fitted or loaded) on nominal images.

        ``data`` yields arrays, Samples or (image, roi) pairs; several epochs need a re-iterable
        (a dataset or list). The sequential strategy stops early after an epoch without
        replacements, and after epoch 1 if the coreset is still not full (every patch has then
        been kept). The greedy baseline makes one pass (one per epoch with augmentation).
        """
        if epochs > 1 and iter(data) is data:
            raise ValueError("fit over several epochs needs a re-iterable dataset or list, not an iterator")
        passes = self.strategy.passes(epochs, augment is not None)
        return self._train(lambda desc: self._epoch_patches(data, augment, desc, progress), passes)

    def fit_features(
        self, batches: Callable[[], Iterable[np.ndarray]], epochs: int = 5, progress: bool = True
    ) -> FitReport:
        """Fit from precomputed patch features; each call of ``batches()`` yields (n, d) arrays.

        Lets benchmarks extract features once and train both strategies on identical vectors.
        """

        def source(desc: str) -> Iterable[np.ndarray]:
            return tqdm(batches(), desc=desc, unit="img", disable=not progress, leave=False)

        return self._train(source, self.strategy.passes(epochs, False))

    def _train(self, source: PatchSource, passes: int) -> FitReport:
        """Run the strategy over ``passes`` passes of patch arrays; record the report."""
        if passes < 1:
            raise ValueError(f"epochs must be >= 1, got {passes}")
        start = time.perf_counter()
        report = FitReport(self.strategy.name)
        spec = CoresetSpec(self.capacity, self.dim, self.coreset_device, self.seed)
        self.coreset = self.strategy.train(self.coreset, source, passes, spec, report)
        report.seconds = time.perf_counter() - start
        self.history.append(report.to_dict())
        return report

    # -- inference --------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if self.coreset is None or self.coreset.size == 0:
            raise ValueError("the model has no coreset yet: fit it or load a trained model first")

    def patch_scores(self, features: np.ndarray, chunk_size: int = 2048) -> np.ndarray:
        """Distance of each patch vector (n, d) to its nearest coreset point, in chunks (SPEC §4).

        Routed through :func:`seqcore.coreset.knn.nearest_neighbors` (FAISS-GPU, CUDA, FAISS-CPU
        or the C++ core, whichever is available first); training decisions do not depend on it.
        """
        from seqcore.coreset.knn import nearest_neighbors

        self._require_fitted()
        distance, _ = nearest_neighbors(features, self.coreset.points, chunk_size=chunk_size)
        return distance

    def score_grid(self, prepared: np.ndarray) -> np.ndarray:
        """Patch-score grid (gh, gw) of a prepared image, tile by tile so memory stays bounded."""
        grid = np.zeros(self.extractor.grid_shape(*prepared.shape[:2]), np.float32)
        for tile in self.extractor.iter_tiles(prepared):
            h, w = tile.shape
            grid[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w] = self.patch_scores(
                tile.features.reshape(h * w, -1)
            ).reshape(h, w)
        return grid

    def predict(self, image: ImageLike, roi: np.ndarray | None = None) -> Prediction:
        """Anomaly map at input resolution (zero outside the region of interest) and image score."""
        self._require_fitted()
        array, sample_roi = _unpack(image)
        roi = _check_roi(roi if roi is not None else sample_roi, array.shape[:2])
        prepared = self.extractor.prepare(array)
        amap = anomaly_map(
            self.score_grid(prepared), self.extractor.stride, prepared.shape[:2], array.shape[:2], self.blur_sigma
        )
        if roi is not None:
            amap[~roi] = 0.0
        score = max_score(amap, roi)
        anomalous = None if self.threshold is None else score >= self.threshold
        return Prediction(amap, score, anomalous)

    # -- persistence ------------------------------------------------------------------------
    def file_metadata(self) -> PatchCoreMetadata:
        """The model-file metadata as a validated dataclass."""
        return PatchCoreMetadata(
            features=self.config,
            feature_dim=self.dim,
            capacity=self.capacity,
            method=self.strategy.name,
            greedy_projection_dim=greedy_projection_dim(self.strategy),
            blur_sigma=self.blur_sigma,
            min_patch_brightness=self.min_patch_brightness,
            threshold=self.threshold,
            seed=self.seed,
            history=self.history,
            versions=versions(),
        )

    def metadata(self) -> dict[str, Any]:
        """Everything besides the tensors that is needed to reproduce predictions (JSON-ready)."""
        return self.file_metadata().to_dict()

    def save(self, path: str | Path) -> None:
        """Write one safetensors file: coreset (+ projection matrix) and metadata (see ``metadata``)."""
        from seqcore.io import save_model

        self._require_fitted()
        tensors = {"coreset": self.coreset.points.astype(np.float32)}
        if self.extractor.projection is not None:
            tensors["projection"] = self.extractor.projection
        save_model(path, tensors, self.metadata())

    @classmethod
    def load(
        cls, path: str | Path, device: str = "cpu", coreset_device: str = "cpu", bf16: bool = False
    ) -> SequentialPatchCore:
        """Read a model file written by ``save``; ModelFileError for other kinds, bad metadata or shapes."""
        from seqcore.coreset import SequentialCoreset
        from seqcore.features import BackboneError
        from seqcore.io import ModelFileError, load_model

        tensors, meta = load_model(path)
        try:
            schema = PatchCoreMetadata.from_dict(meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        points, projection = tensors["coreset"], tensors.get("projection")
        dim = schema.feature_dim if schema.feature_dim is not None else points.shape[1]
        if points.shape[1] != dim or len(points) > schema.capacity:
            raise ModelFileError(
                f"{path}: coreset tensor {points.shape} does not fit feature_dim {dim} / capacity {schema.capacity}"
            )
        if (projection is None) != (schema.features.projection_dim is None):
            raise ModelFileError(f"{path}: projection matrix presence does not match projection_dim")
        coreset = SequentialCoreset.from_points(points, capacity=schema.capacity, device=coreset_device)
        try:
            return cls.from_coreset(
                coreset, schema.features, projection=projection, history=schema.history,
                strategy=strategy_named(schema.method, schema.greedy_projection_dim),
                blur_sigma=schema.blur_sigma, min_patch_brightness=schema.min_patch_brightness,
                threshold=schema.threshold, seed=schema.seed, device=device, coreset_device=coreset_device, bf16=bf16,
            )
        except IndexError as exc:  # timm's answer to a level the backbone does not have
            raise ModelFileError(
                f"{path}: backbone {schema.features.backbone} has no feature level among "
                f"out_indices {schema.features.out_indices}"
            ) from exc
        except (BackboneError, ValueError) as exc:
            raise ModelFileError(f"{path}: {exc}") from exc

    # -- melding ----------------------------------------------------------------------------
    @classmethod
    def meld(cls, models: Sequence[SequentialPatchCore], capacity: int | None = None) -> SequentialPatchCore:
        """Meld fitted models (base first) into a new one of ``capacity`` (default: the base's), SPEC §2."""
        from seqcore.models.patchcore.meld import meld_models

        return meld_models(models, capacity)
