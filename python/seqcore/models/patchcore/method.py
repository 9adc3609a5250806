"""SequentialPatchCore (docs/design.md §2–§4): a bounded coreset of nominal patch features, scored by nearest neighbour.

Training offers every patch of every nominal image to the coreset through a strategy object
(``Sequential`` by default, ``Greedy`` for the original PatchCore baseline), so peak memory
does not grow with the training set; the features, capacity and scoring are the same for both.

Multi-scale (``scales``, issue 14): one bank per pooling kernel, all fed from the same backbone
pass; each bank's score grid is divided by its nominal scale and the grids are averaged
(``scoring.fuse_grids``). The first kernel's bank is the primary one ("coreset" in the file),
whose features and points give the nearest-neighbour reweighted image score.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from seqcore.data.sample import Sample
from seqcore.features import FeatureConfig, FeatureExtractor, cell_means
from seqcore.models.anomaly_map import anomaly_map, max_score
from seqcore.models.base import Prediction
from seqcore.models.patchcore.checkpoint import FitCheckpoint
from seqcore.models.patchcore.feature_cache import DEFAULT_CACHE_BYTES, FeatureCache
from seqcore.models.patchcore.fit_pipeline import image_stream
from seqcore.models.patchcore.scoring import (
    IMAGE_SCORES,
    NN_SUPPORTS,
    SCALE_SUBSAMPLE,
    bank_neighbours,
    fuse_grids,
    nn_reweighted_score,
    nominal_scale,
)
from seqcore.models.patchcore.strategies import (
    CoresetSpec,
    FitReport,
    ImageSource,
    PatchSource,
    Sequential,
    Strategy,
    greedy_projection_dim,
    strategy_named,
)
from seqcore.models.schema import PATCHCORE_KIND, PatchCoreMetadata, versions

ImageLike = np.ndarray | Sample
DEFAULT_SIGMAS = (2.0, 4.0, 6.0, 8.0)  # blur candidates ``calibrate`` chooses from on val


def default_scales(pool_kernel: int) -> tuple[int, ...]:
    """The banks' pool kernels when none are given: the configured pooling fused with unpooled features."""
    return (pool_kernel,) if pool_kernel == 1 else (pool_kernel, 1)


@dataclass
class PatchScores:
    """What ``predict`` computes before the blur: the fused score grid and the image geometry."""

    grid: np.ndarray  # (gh, gw) fused patch scores
    prepared_shape: tuple[int, int]
    input_shape: tuple[int, int]
    roi: np.ndarray | None
    nn_score: float | None  # PatchCore's reweighted image score (None when image_score == "max")
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
    tiling); ``scales`` are the banks' pool kernels (first = ``features.pool_kernel``, default
    ``default_scales``), ``image_score`` is "nn" (PatchCore reweighting; "nn3" with 3 neighbours)
    or "max" (map maximum); the other settings decide training and scoring.
    """

    KIND = PATCHCORE_KIND

    def __init__(
        self,
        features: FeatureConfig | None = None,
        *,
        capacity: int = 2048,
        strategy: Strategy | None = None,
        scales: Sequence[int] | None = None,
        image_score: str = "nn",
        nominal_scales: Sequence[float] | None = None,
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
        if features is None and scales:
            features = FeatureConfig(pool_kernel=int(scales[0]))
        self.config = features or FeatureConfig()
        self.scales = self._check_scales(scales)
        if image_score not in IMAGE_SCORES:
            raise ValueError(f"image_score must be one of {IMAGE_SCORES}, got {image_score!r}")
        self.image_score = image_score
        self.nominal_scales = self._check_nominal_scales(nominal_scales)
        self.capacity = int(capacity)
        self.strategy: Strategy = strategy or Sequential()
        self.blur_sigma = float(blur_sigma)
        self.min_patch_brightness = min_patch_brightness
        self.threshold = threshold
        self.threshold_rule = "f1"  # the rule that chose ``threshold`` (metrics.operating)
        self.pixel_size_mm: float | None = None  # mm per pixel of the images (defect areas in mm²), if known
        self.device = device
        self.coreset_device = coreset_device
        self.bf16 = bf16
        self.seed = seed
        self.banks: list | None = None  # one SequentialCoreset per scale once fitted or loaded
        self.history: list[dict[str, Any]] = []
        self._extractor: FeatureExtractor | None = None
        self._projection: np.ndarray | None = None
        self._support: tuple[Any, np.ndarray, np.ndarray] | None = None  # (bank, points, support sets)

    def _check_scales(self, scales: Sequence[int] | None) -> tuple[int, ...]:
        out = default_scales(self.config.pool_kernel) if scales is None else tuple(int(k) for k in scales)
        if not out or min(out) < 1 or len(set(out)) != len(out):
            raise ValueError(f"scales must be distinct pool kernels >= 1, got {scales!r}")
        if out[0] != self.config.pool_kernel:
            raise ValueError(
                f"the first scale ({out[0]}) must be the features' pool_kernel ({self.config.pool_kernel})"
            )
        return out

    def _check_nominal_scales(self, values: Sequence[float] | None) -> list[float] | None:
        if values is None:
            return None
        out = [float(v) for v in values]
        if len(out) != len(self.scales) or not all(math.isfinite(v) and v > 0 for v in out):
            raise ValueError(f"nominal_scales must be {len(self.scales)} positive numbers, got {values!r}")
        return out

    @property
    def coreset(self) -> Any:
        """The primary bank (the first scale's coreset), None before fitting."""
        return None if self.banks is None else self.banks[0]

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
        """A fitted model around a trained coreset, or a list of them, one per scale (capacity: the first's).

        One coreset without ``scales`` makes a single-scale model; several need ``scales`` and
        ``nominal_scales``.
        ``features`` is the extractor that made the coreset's vectors (shared, with its device),
        or their FeatureConfig plus the stored ``projection`` matrix when one was used.
        ``settings`` are the other constructor keywords.
        """
        if "capacity" in settings:
            raise TypeError("from_coreset takes the capacity from the coreset")
        banks = list(coreset) if isinstance(coreset, (list, tuple)) else [coreset]
        coreset = banks[0]
        if len(banks) == 1 and "scales" not in settings:  # one coreset: a single-scale model
            config = features.config if isinstance(features, FeatureExtractor) else features or FeatureConfig()
            settings["scales"] = (config.pool_kernel,)
        if isinstance(features, FeatureExtractor):
            if projection is not None or {"device", "bf16"} & set(settings):
                raise TypeError("projection, device and bf16 come from the given extractor")
            model = cls(features.config, capacity=coreset.capacity, device=str(features.device),
                        bf16=features.bf16, **settings)
            model._extractor, model._projection = features, features.projection
        else:
            model = cls(features, capacity=coreset.capacity, **settings)
            model._projection = projection
        if len(banks) != len(model.scales):
            raise ValueError(f"{len(banks)} coreset(s) for {len(model.scales)} scale(s) {model.scales}")
        for bank in banks:
            if bank.dim != model.dim:
                raise ValueError(
                    f"coreset has d={bank.dim}, the features (backbone {model.config.backbone}) give d={model.dim}"
                )
        if len(banks) > 1 and model.nominal_scales is None:
            raise ValueError("a multi-scale model needs the nominal_scales of its banks")
        model.banks = banks
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
        """Training patch vectors (n, d) of the primary scale, tile by tile, after the brightness/ROI filter."""
        for patches in self.image_bank_patches(image, roi):
            yield patches[0]

    def image_bank_patches(self, image: np.ndarray, roi: np.ndarray | None = None) -> Iterator[list[np.ndarray]]:
        """Per tile, the filtered training patch vectors (n, d) of every scale (one backbone pass)."""
        roi = _check_roi(roi, image.shape[:2])
        prepared = self.extractor.prepare(image)
        keep = self._patch_keep_mask(prepared, roi)
        for tiles in self.extractor.iter_tiles_kernels(prepared, self.scales):
            h, w = tiles[0].shape
            out = []
            for tile in tiles:
                feats = tile.features.reshape(h * w, -1)
                if keep is not None:
                    feats = feats[keep[tile.y0 : tile.y0 + h, tile.x0 : tile.x0 + w].reshape(-1)]
                out.append(feats)
            yield out

    # -- training ---------------------------------------------------------------------------
    def _extract_item(self, item: Any, augment: Augmentation | None) -> list[list[np.ndarray]]:
        """One training item's filtered tiles (one array per scale each), augmented first if asked."""
        image, roi = _unpack(item)
        if augment is not None:
            image, mask = augment(image, None if roi is None else roi.astype(np.uint8))
            roi = None if mask is None else mask.astype(bool)
        return list(self.image_bank_patches(image, roi))

    def fit(
        self,
        data: Iterable,
        epochs: int = 5,
        augment: Augmentation | None = None,
        progress: bool = True,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
        checkpoint: FitCheckpoint | None = None,
    ) -> FitReport:
        """Train (or fine-tune, when already fitted or loaded) on nominal images.

        ``data`` yields arrays, Samples or (image, roi) pairs; several epochs need a re-iterable
        (a dataset or list). The sequential strategy stops a bank early after an epoch with at most
        ``stop_fraction`` · K replacements, and after epoch 1 if the coreset is still not full (every
        patch has then been kept). The greedy baseline makes one pass (one per epoch with augmentation).
        Features are cached on disk up to ``cache_bytes`` (0: extract every epoch), extracted by a
        producer thread (``prefetch``); ``checkpoint`` saves and resumes a sequential fit
        (docs/design.md §17). None of these change the fitted model.
        """
        if (epochs > 1 or len(self.scales) > 1) and iter(data) is data:
            raise ValueError("fit over several epochs or scales needs a re-iterable dataset or list, not an iterator")
        passes = self.strategy.passes(epochs, augment is not None)
        if checkpoint is not None and not isinstance(self.strategy, Sequential):
            raise ValueError(f"checkpoints need the sequential strategy, not {self.strategy.name}")
        # with augmentation a checkpoint holds the augmentation's RNG state, so nothing may run ahead
        prefetch = prefetch and not (checkpoint is not None and augment is not None)
        cache = FeatureCache(cache_bytes) if cache_bytes > 0 else None
        try:
            def stream(step: int = 1, aug: Augmentation | None = augment):
                return image_stream(lambda item: self._extract_item(item, aug), data, cache,
                                    augmented=aug is not None, prefetch=prefetch, progress=progress, step=step)

            def subsample() -> Iterator[list[np.ndarray]]:
                for _, tiles in stream(SCALE_SUBSAMPLE, None)("nominal scales", 0):
                    yield from tiles

            if isinstance(self.strategy, Sequential):
                report = self._train_images(stream(), passes, subsample, checkpoint)
            else:
                images = stream()
                report = self._train(lambda desc: (t for _, tiles in images(desc, 0) for t in tiles),
                                     passes, subsample)
            report.cache_bytes = 0 if cache is None else cache.bytes
        finally:
            if cache is not None:
                cache.close()
        return report

    def fit_features(
        self, batches: Callable[[], Iterable[np.ndarray]], epochs: int = 5, progress: bool = True
    ) -> FitReport:
        """Fit from precomputed patch features; each call of ``batches()`` yields per image an (n, d)
        array, or with several scales a sequence of them (one per scale, as ``image_bank_patches``).

        Lets benchmarks extract features once and train both strategies on identical vectors.
        """

        def per_bank(batch: Any) -> list[np.ndarray]:
            arrays = list(batch) if isinstance(batch, (list, tuple)) else [batch]
            if len(arrays) != len(self.scales):
                raise ValueError(f"fit_features got {len(arrays)} array(s) per batch for {len(self.scales)} scale(s)")
            return arrays

        def source(desc: str) -> Iterable[list[np.ndarray]]:
            return (per_bank(b) for b in tqdm(batches(), desc=desc, unit="img", disable=not progress, leave=False))

        def subsample() -> Iterable[list[np.ndarray]]:
            return (per_bank(b) for i, b in enumerate(batches()) if i % SCALE_SUBSAMPLE == 0)

        return self._train(source, self.strategy.passes(epochs, False), subsample)

    def _train_images(self, images: ImageSource, passes: int, subsample: Callable[[], Iterable[Sequence[np.ndarray]]],
                      checkpoint: FitCheckpoint | None) -> FitReport:
        """``_train`` for the sequential strategy over whole images, saving/resuming ``checkpoint``."""
        if passes < 1:
            raise ValueError(f"epochs must be >= 1, got {passes}")
        start = time.perf_counter()
        report = FitReport(self.strategy.name)
        spec = CoresetSpec(self.capacity, self.dim, self.coreset_device, self.seed, len(self.scales))
        state, on_image = None, None
        if checkpoint is not None:
            settings = {"features": repr(self.config), "dim": self.dim, "capacity": self.capacity,
                        "scales": self.scales, "min_patch_brightness": self.min_patch_brightness,
                        "strategy": repr(self.strategy), "passes": passes, "history": self.history}
            if self.banks is not None:  # fine-tuning: the starting coresets are part of the settings
                settings["init"] = [hashlib.sha256(bank.points.tobytes()).hexdigest() for bank in self.banks]
            checkpoint.bind(settings)
            resumed = checkpoint.restore(report, self.coreset_device)
            if resumed is not None:
                state, self.banks = resumed
            on_image = checkpoint.saver(report)
        self.banks = self.strategy.train_images(self.banks, images, passes, spec, report, state, on_image)
        return self._finish(report, subsample, start)

    def _train(
        self, source: PatchSource, passes: int, subsample: Callable[[], Iterable[Sequence[np.ndarray]]]
    ) -> FitReport:
        """Run the strategy over ``passes`` passes of patch arrays, then (several scales) measure the
        banks' nominal scales on ``subsample()`` (every 8th training image); record the report."""
        if passes < 1:
            raise ValueError(f"epochs must be >= 1, got {passes}")
        start = time.perf_counter()
        report = FitReport(self.strategy.name)
        spec = CoresetSpec(self.capacity, self.dim, self.coreset_device, self.seed, len(self.scales))
        self.banks = self.strategy.train(self.banks, source, passes, spec, report)
        return self._finish(report, subsample, start)

    def _finish(self, report: FitReport, subsample: Callable[[], Iterable[Sequence[np.ndarray]]],
                start: float) -> FitReport:
        """Measure the nominal scales (several banks) and record the report (without its time, so
        that equal fits write equal files)."""
        self._support = None
        if len(self.banks) > 1:
            self.nominal_scales = self._measure_nominal_scales(subsample())
        report.seconds = time.perf_counter() - start
        self.history.append({k: v for k, v in report.to_dict().items() if k != "seconds"})
        return report

    def _measure_nominal_scales(self, batches: Iterable[Sequence[np.ndarray]]) -> list[float]:
        """Each bank's mean nearest-bank distance over the given nominal patches (``scoring.nominal_scale``;
        1 for a degenerate bank of identical points)."""
        from seqcore.coreset.knn import nearest_neighbors

        distances: list[list[np.ndarray]] = [[] for _ in self.banks]
        points = [bank.points for bank in self.banks]
        for patches in batches:
            for found, bank, p in zip(distances, points, patches, strict=True):
                if len(p):
                    found.append(nearest_neighbors(p, bank)[0])
        scales = []
        for found, bank in zip(distances, points, strict=True):
            try:
                scales.append(nominal_scale(np.concatenate(found) if found else np.empty(0), bank))
            except ValueError:  # every patch identical: nothing to normalise by
                scales.append(1.0)
        return scales

    # -- inference --------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if self.banks is None or any(bank.size == 0 for bank in self.banks):
            raise ValueError("the model has no coreset yet: fit it or load a trained model first")

    def patch_scores(self, features: np.ndarray, chunk_size: int = 2048, bank: int = 0) -> np.ndarray:
        """Distance of each patch vector (n, d) to its nearest point of bank ``bank``, in chunks (docs/design.md §4).

        Routed through :func:`seqcore.coreset.knn.nearest_neighbors` (FAISS-GPU, CUDA, FAISS-CPU
        or the C++ core, whichever is available first); training decisions do not depend on it.
        """
        from seqcore.coreset.knn import nearest_neighbors

        self._require_fitted()
        distance, _ = nearest_neighbors(features, self.banks[bank].points, chunk_size=chunk_size)
        return distance

    def _primary_support(self) -> tuple[np.ndarray, np.ndarray]:
        """The primary bank's points and their PatchCore support sets (cached until the bank changes)."""
        bank = self.banks[0]
        k = min(NN_SUPPORTS[self.image_score], bank.size)
        if self._support is None or self._support[0] is not bank or self._support[2].shape[1] != k:
            points = bank.points
            self._support = (bank, points, bank_neighbours(points, NN_SUPPORTS[self.image_score]))
        return self._support[1], self._support[2]

    def bank_grids(self, prepared: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Per scale the raw patch-score grid (gh, gw), plus the primary scale's nearest-point indices
        (gh, gw) and features (gh, gw, d); tile by tile so memory stays bounded."""
        from seqcore.coreset.knn import nearest_neighbors

        self._require_fitted()
        shape = self.extractor.grid_shape(*prepared.shape[:2])
        grids = [np.zeros(shape, np.float32) for _ in self.scales]
        index = np.zeros(shape, np.int64)
        primary = np.zeros((*shape, self.dim), np.float32)
        points = [bank.points for bank in self.banks]
        for tiles in self.extractor.iter_tiles_kernels(prepared, self.scales):
            h, w = tiles[0].shape
            y, x = tiles[0].y0, tiles[0].x0
            for b, tile in enumerate(tiles):
                dist, nn = nearest_neighbors(tile.features.reshape(h * w, -1), points[b])
                grids[b][y : y + h, x : x + w] = dist.reshape(h, w)
                if b == 0:
                    index[y : y + h, x : x + w] = nn.reshape(h, w)
                    primary[y : y + h, x : x + w] = tile.features
        return grids, index, primary

    def score_grid(self, prepared: np.ndarray) -> np.ndarray:
        """Patch-score grid (gh, gw) of a prepared image: the primary bank's, or the fused one of all banks."""
        return self._fuse(self.bank_grids(prepared)[0])

    def _fuse(self, grids: list[np.ndarray]) -> np.ndarray:
        if len(grids) == 1:
            return grids[0]
        stride = self.extractor.stride
        return fuse_grids(grids, [stride] * len(grids), self.nominal_scales)[0]

    def scores(self, image: ImageLike, roi: np.ndarray | None = None) -> PatchScores:
        """Everything ``predict`` needs before the blur (``calibrate`` caches these to try several σ)."""
        self._require_fitted()
        array, sample_roi = _unpack(image)
        roi = _check_roi(roi if roi is not None else sample_roi, array.shape[:2])
        prepared = self.extractor.prepare(array)
        grids, index, primary = self.bank_grids(prepared)
        grid = self._fuse(grids)
        nn = None
        if self.image_score in NN_SUPPORTS:
            ranked = grid
            if roi is not None:  # the worst patch is sought among cells that overlap the region of interest
                small = cv2.resize(roi.astype(np.uint8), (prepared.shape[1], prepared.shape[0]),
                                   interpolation=cv2.INTER_NEAREST)
                ranked = np.where(cell_means(small.astype(np.float32), self.extractor.stride) > 0, grid, 0.0)
            points, support = self._primary_support()
            nn = nn_reweighted_score(ranked, index, primary, points, support)
        return PatchScores(grid, prepared.shape[:2], array.shape[:2], roi, nn)

    def render(self, scores: PatchScores, blur_sigma: float | None = None) -> Prediction:
        """Anomaly map at input resolution (zero outside the region of interest), image score and verdict."""
        sigma = self.blur_sigma if blur_sigma is None else blur_sigma
        amap = anomaly_map(scores.grid, self.extractor.stride, scores.prepared_shape, scores.input_shape, sigma)
        if scores.roi is not None:
            amap[~scores.roi] = 0.0
        score = scores.nn_score if scores.nn_score is not None else max_score(amap, scores.roi)
        anomalous = None if self.threshold is None else score >= self.threshold
        return Prediction(amap, score, anomalous)

    def predict(self, image: ImageLike, roi: np.ndarray | None = None) -> Prediction:
        """Anomaly map at input resolution (zero outside the region of interest) and image score."""
        return self.render(self.scores(image, roi))

    # -- persistence ------------------------------------------------------------------------
    def file_metadata(self) -> PatchCoreMetadata:
        """The model-file metadata as a validated dataclass."""
        return PatchCoreMetadata(
            features=self.config,
            feature_dim=self.dim,
            capacity=self.capacity,
            method=self.strategy.name,
            greedy_projection_dim=greedy_projection_dim(self.strategy),
            scales=list(self.scales),
            nominal_scales=self.nominal_scales,
            image_score=self.image_score,
            blur_sigma=self.blur_sigma,
            min_patch_brightness=self.min_patch_brightness,
            threshold=self.threshold,
            threshold_rule=self.threshold_rule,
            pixel_size_mm=self.pixel_size_mm,
            seed=self.seed,
            history=self.history,
            versions=versions(),
        )

    def metadata(self) -> dict[str, Any]:
        """Everything besides the tensors that is needed to reproduce predictions (JSON-ready)."""
        return self.file_metadata().to_dict()

    def save(self, path: str | Path) -> None:
        """Write one safetensors file: the primary bank as "coreset", further banks as "coreset_1", ...
        (+ projection matrix) and metadata (see ``metadata``)."""
        from seqcore.io import save_model

        self._require_fitted()
        tensors = {"coreset": self.coreset.points.astype(np.float32)}
        for index, bank in enumerate(self.banks[1:], start=1):
            tensors[f"coreset_{index}"] = bank.points.astype(np.float32)
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
        try:  # every field and tensor is checked before anything is built
            schema = PatchCoreMetadata.from_dict(meta)
            schema.check_tensors(tensors)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        projection = tensors.get("projection")
        banks = [SequentialCoreset.from_points(tensors[name], capacity=schema.capacity, device=coreset_device)
                 for name in schema.bank_names()]
        try:
            model = cls.from_coreset(
                banks, schema.features, projection=projection, history=schema.history,
                strategy=strategy_named(schema.method, schema.greedy_projection_dim),
                scales=schema.scales, nominal_scales=schema.nominal_scales, image_score=schema.image_score,
                blur_sigma=schema.blur_sigma, min_patch_brightness=schema.min_patch_brightness,
                threshold=schema.threshold, seed=schema.seed, device=device, coreset_device=coreset_device, bf16=bf16,
            )
        except (BackboneError, ValueError) as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        model.threshold_rule = schema.threshold_rule
        model.pixel_size_mm = schema.pixel_size_mm
        return model

    def export(self, out_dir: str | Path) -> Path:
        """Write the ONNX extractor and the model file the C++ ``seqcore::Inspector`` reads (seqcore.export)."""
        from seqcore.export import export_model

        return export_model(self, out_dir)

    # -- melding ----------------------------------------------------------------------------
    @classmethod
    def meld(cls, models: Sequence[SequentialPatchCore], capacity: int | None = None) -> SequentialPatchCore:
        """Meld fitted models (base first) into a new one of ``capacity`` (default: the base's), docs/design.md §2."""
        from seqcore.models.patchcore.meld import meld_models

        return meld_models(models, capacity)
