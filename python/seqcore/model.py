"""SequentialPatchCore (SPEC §2–§4): fit / fine-tune / meld / predict / calibrate / save / load.

Training offers every patch of every nominal image to a bounded sequential coreset, epoch
after epoch, so peak memory does not grow with the training set. ``method="greedy"`` is the
original PatchCore baseline (greedy k-center over all training patches) with the same
features, capacity and scoring.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
from tqdm.auto import tqdm

from seqcore.data.sample import Sample
from seqcore.features import FeatureConfig, FeatureExtractor, cell_means
from seqcore.features.backbones import DEFAULT_BACKBONE
from seqcore.features.memory import release_freed_memory

MODEL_KIND = "SequentialPatchCore"
METHODS = ("sequential", "greedy")
ImageLike = np.ndarray | Sample
Augmentation = Callable[[np.ndarray, "np.ndarray | None"], "tuple[np.ndarray, np.ndarray | None]"]


class IncompatibleModelsError(ValueError):
    """Models cannot be melded or fine-tuned together: their patch features differ."""


@dataclass
class Prediction:
    """Anomaly map at input resolution, image score (max of the map) and the thresholded verdict."""

    anomaly_map: np.ndarray  # (H, W) float32
    score: float
    anomalous: bool | None  # None while the model has no threshold


@dataclass
class FitReport:
    """What one call of ``fit`` did: per-epoch replacement and patch counts, stop reason, time."""

    method: str
    replacements: list[int] = field(default_factory=list)
    patches: list[int] = field(default_factory=list)
    stop_reason: str = ""
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.patches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "epochs": self.epochs,
            "replacements": list(self.replacements),
            "patches": list(self.patches),
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 3),
        }


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


def _versions() -> dict[str, str]:
    import timm
    import torch

    from seqcore import __version__

    return {"seqcore": __version__, "torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__}


class SequentialPatchCore:
    """Anomaly segmentation with a bounded coreset of nominal patch features (see module docstring)."""

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        capacity: int = 2048,
        *,
        out_indices: tuple[int, ...] = (2, 3),
        pool_kernel: int = 3,
        resize_short_side: int | None = None,
        resize_shape: tuple[int, int] | None = None,
        border_pad: int = 8,
        projection_dim: int | None = None,
        pretrained: bool = True,
        tile_size: int | None = 1024,
        tile_overlap: int = 128,
        blur_sigma: float = 2.0,
        method: str = "sequential",
        greedy_projection_dim: int | None = 128,
        min_patch_brightness: float | None = None,
        threshold: float | None = None,
        device: str = "cpu",
        coreset_device: str = "cpu",
        bf16: bool = False,
        seed: int = 0,
        config: FeatureConfig | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if blur_sigma < 0 or not math.isfinite(blur_sigma):
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma}")
        if min_patch_brightness is not None and not 0.0 <= min_patch_brightness <= 1.0:
            raise ValueError(f"min_patch_brightness is a fraction of full scale in [0, 1], got {min_patch_brightness}")
        self.config = config or FeatureConfig(
            backbone=backbone,
            out_indices=tuple(out_indices),
            pool_kernel=pool_kernel,
            resize_short_side=resize_short_side,
            projection_dim=projection_dim,
            projection_seed=seed,
            pretrained=pretrained,
            tile_size=tile_size,
            tile_overlap=tile_overlap,
            resize_shape=resize_shape,
            border_pad=border_pad,
        )
        self.capacity = int(capacity)
        self.method = method
        self.greedy_projection_dim = greedy_projection_dim
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
    def _new_coreset(self):
        from seqcore.coreset import SequentialCoreset

        return SequentialCoreset(self.capacity, self.dim, device=self.coreset_device)

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
        (a dataset or list). Stops early after an epoch without replacements, and after epoch 1
        if the coreset is still not full (every patch has then been kept). The greedy baseline
        makes one pass (one per epoch with augmentation) and selects from all patches at once.
        """
        if epochs > 1 and iter(data) is data:
            raise ValueError("fit over several epochs needs a re-iterable dataset or list, not an iterator")
        passes = epochs if self.method == "sequential" or augment is not None else 1
        return self._train(lambda desc: self._epoch_patches(data, augment, desc, progress), passes)

    def fit_features(
        self, batches: Callable[[], Iterable[np.ndarray]], epochs: int = 5, progress: bool = True
    ) -> FitReport:
        """Fit from precomputed patch features; each call of ``batches()`` yields (n, d) arrays.

        Lets benchmarks extract features once and train both methods on identical vectors.
        """
        passes = epochs if self.method == "sequential" else 1

        def source(desc: str) -> Iterable[np.ndarray]:
            return tqdm(batches(), desc=desc, unit="img", disable=not progress, leave=False)

        return self._train(source, passes)

    def _train(self, source: Callable[[str], Iterable[np.ndarray]], passes: int) -> FitReport:
        """Run the configured method over ``passes`` passes of patch arrays; record the report."""
        if passes < 1:
            raise ValueError(f"epochs must be >= 1, got {passes}")
        start = time.perf_counter()
        report = FitReport(self.method)
        if self.method == "greedy":
            self._train_greedy(source, passes, report)
        else:
            self._train_sequential(source, passes, report)
        report.seconds = time.perf_counter() - start
        self.history.append(report.to_dict())
        return report

    def _train_sequential(self, source, epochs: int, report: FitReport) -> None:
        if self.coreset is None:
            self.coreset = self._new_coreset()
        for epoch in range(1, epochs + 1):
            replaced = offered = 0
            for patches in source(f"epoch {epoch}/{epochs}"):
                if len(patches):
                    replaced += int(self.coreset.offer_batch(patches))
                    offered += len(patches)
            report.replacements.append(replaced)
            report.patches.append(offered)
            if offered == 0:
                raise ValueError("no training patches: the data is empty or every patch was filtered out")
            if self.coreset.size < self.capacity:
                report.stop_reason = "coreset not full: every patch kept"
                return
            if replaced == 0:
                report.stop_reason = "no replacements"
                return
        report.stop_reason = "max epochs"

    def _train_greedy(self, source, passes: int, report: FitReport) -> None:
        """Baseline: greedy k-center over all patches (plus the current coreset when fine-tuning)."""
        from seqcore.coreset import SequentialCoreset, greedy_kcenter

        pool = [] if self.coreset is None else [self.coreset.points]
        for index in range(passes):
            count = 0
            for patches in source(f"collect {index + 1}/{passes}"):
                pool.append(np.asarray(patches, dtype=np.float32))
                count += len(patches)
            report.patches.append(count)
            report.replacements.append(0)
        features = np.concatenate(pool, axis=0) if pool else np.empty((0, self.dim), np.float32)
        if len(features) == 0:
            raise ValueError("no training patches: the data is empty or every patch was filtered out")
        if len(features) > self.capacity:
            proj = self.greedy_projection_dim
            proj = proj if proj is not None and proj < features.shape[1] else None
            features = features[greedy_kcenter(features, self.capacity, projection_dim=proj, seed=self.seed)]
        self.coreset = SequentialCoreset.from_points(features, capacity=self.capacity, device=self.coreset_device)
        report.stop_reason = "greedy k-center"

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

    def anomaly_map(
        self,
        grid: np.ndarray,
        prepared_shape: tuple[int, int],
        input_shape: tuple[int, int],
        blur_sigma: float | None = None,
    ) -> np.ndarray:
        """Patch grid → nearest upsampling to the prepared size → Gaussian blur → input size.

        ``blur_sigma`` overrides the model's own σ for this call (e.g. to compare candidates).
        """
        sigma = self.blur_sigma if blur_sigma is None else blur_sigma
        stride = self.extractor.stride
        full = np.repeat(np.repeat(grid, stride, axis=0), stride, axis=1)[: prepared_shape[0], : prepared_shape[1]]
        full = np.ascontiguousarray(full, dtype=np.float32)
        if sigma > 0:
            radius = int(4.0 * sigma + 0.5)
            size = (2 * radius + 1, 2 * radius + 1)
            full = cv2.GaussianBlur(full, size, sigma, borderType=cv2.BORDER_REFLECT)
        if full.shape != tuple(input_shape):
            full = cv2.resize(full, (input_shape[1], input_shape[0]), interpolation=cv2.INTER_LINEAR)
        return full

    def predict(self, image: ImageLike, roi: np.ndarray | None = None) -> Prediction:
        """Anomaly map at input resolution and image score (max inside the region of interest)."""
        self._require_fitted()
        array, sample_roi = _unpack(image)
        roi = _check_roi(roi if roi is not None else sample_roi, array.shape[:2])
        prepared = self.extractor.prepare(array)
        amap = self.anomaly_map(self.score_grid(prepared), prepared.shape[:2], array.shape[:2])
        if roi is not None:
            amap[~roi] = 0.0
        score = float(amap.max()) if amap.size else 0.0
        anomalous = None if self.threshold is None else score >= self.threshold
        return Prediction(amap, score, anomalous)

    def predict_many(self, data: Iterable, progress: bool = True) -> Iterator[tuple[Any, Prediction]]:
        """(item, prediction) for every item of a dataset or list, with a progress bar."""
        total = len(data) if hasattr(data, "__len__") else None
        for item in tqdm(data, total=total, desc="predict", unit="img", disable=not progress):
            yield item, self.predict(item)
            release_freed_memory()

    def calibrate(
        self,
        data: Iterable[Sample],
        defect_classes: Sequence[str] | None = None,
        impurity_classes: Sequence[str] | None = None,
        progress: bool = True,
    ) -> float:
        """Choose and store the threshold maximizing pooled pixel F1 on annotated validation data."""
        from seqcore.metrics import Evaluator

        defects = defect_classes if defect_classes is not None else getattr(data, "defect_classes", None)
        if not defects:
            raise ValueError("calibrate needs the defect class names (pass defect_classes or a dataset that has them)")
        impurities = impurity_classes if impurity_classes is not None else getattr(data, "impurity_classes", ())
        evaluator = Evaluator(list(defects), list(impurities or ()))
        seen = 0
        for sample, prediction in self.predict_many(data, progress):
            if not isinstance(sample, Sample) or sample.gt is None:
                raise ValueError("calibrate needs Samples with ground truth")
            evaluator.add(prediction.anomaly_map, sample.gt, prediction.score)
            seen += 1
        if seen == 0:
            raise ValueError("calibrate got no validation images")
        self.threshold = float(evaluator.best_threshold())
        return self.threshold

    # -- persistence ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Everything besides the tensors that is needed to reproduce predictions."""
        return {
            "model": MODEL_KIND,
            "features": self.config.to_dict(),
            "feature_dim": self.dim,
            "capacity": self.capacity,
            "method": self.method,
            "greedy_projection_dim": self.greedy_projection_dim,
            "blur_sigma": self.blur_sigma,
            "min_patch_brightness": self.min_patch_brightness,
            "threshold": self.threshold,
            "seed": self.seed,
            "history": self.history,
            "versions": _versions(),
        }

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
    ) -> "SequentialPatchCore":
        """Read a model file written by ``save``; rejects files of other kinds or inconsistent shapes."""
        from seqcore.coreset import SequentialCoreset
        from seqcore.io import ModelFileError, load_model

        tensors, meta = load_model(path)
        if meta.get("model") != MODEL_KIND:
            raise ModelFileError(f"{path} is not a {MODEL_KIND} model file (model={meta.get('model')!r})")
        try:
            config = FeatureConfig.from_dict(meta["features"])
            model = cls(
                capacity=int(meta["capacity"]),
                method=meta["method"],
                greedy_projection_dim=meta.get("greedy_projection_dim"),
                blur_sigma=float(meta["blur_sigma"]),
                min_patch_brightness=meta.get("min_patch_brightness"),
                threshold=meta.get("threshold"),
                seed=int(meta.get("seed", 0)),
                device=device,
                coreset_device=coreset_device,
                bf16=bf16,
                config=config,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path} has invalid model metadata: {exc}") from exc
        points = tensors["coreset"]
        projection = tensors.get("projection")
        dim = int(meta.get("feature_dim", points.shape[1]))
        if points.ndim != 2 or points.shape[1] != dim or len(points) > model.capacity:
            raise ModelFileError(
                f"{path}: coreset tensor {points.shape} does not fit feature_dim {dim} / capacity {model.capacity}"
            )
        if (projection is None) != (config.projection_dim is None):
            raise ModelFileError(f"{path}: projection matrix presence does not match projection_dim")
        model._projection = projection
        if model.extractor.dim != dim:
            raise ModelFileError(f"{path}: backbone {config.backbone} gives d={model.extractor.dim}, file has d={dim}")
        model.coreset = SequentialCoreset.from_points(points, capacity=model.capacity, device=coreset_device)
        model.history = list(meta.get("history", []))
        return model

    # -- melding ----------------------------------------------------------------------------
    def check_compatible(self, other: "SequentialPatchCore") -> None:
        """Raise IncompatibleModelsError unless both models produce the same patch vectors."""
        mine, theirs = self.config.compatibility_key(), other.config.compatibility_key()
        diffs = [f"{k}: {mine[k]!r} vs {theirs[k]!r}" for k in mine if mine[k] != theirs.get(k)]
        if not diffs:
            a, b = self.extractor.projection, other.extractor.projection
            if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
                diffs.append("projection matrices differ")
        if diffs:
            raise IncompatibleModelsError("models have incompatible feature configurations: " + "; ".join(diffs))

    @classmethod
    def meld(cls, models: Sequence["SequentialPatchCore"], capacity: int | None = None) -> "SequentialPatchCore":
        """Meld fitted models (base first) into a new one of ``capacity`` (default: the base's), SPEC §2.

        Keeps the base's settings; the threshold survives only if every source has the same one.
        """
        from seqcore.coreset import meld as meld_coresets

        if not models:
            raise ValueError("meld needs at least one model")
        base = models[0]
        for model in models:
            model._require_fitted()
            base.check_compatible(model)
        thresholds = {m.threshold for m in models}
        melded = cls(
            capacity=capacity or base.capacity,
            method="sequential",
            greedy_projection_dim=base.greedy_projection_dim,
            blur_sigma=base.blur_sigma,
            min_patch_brightness=base.min_patch_brightness,
            threshold=thresholds.pop() if len(thresholds) == 1 else None,
            seed=base.seed,
            device=base.device,
            coreset_device=base.coreset_device,
            bf16=base.bf16,
            config=base.config,
        )
        melded._projection = base.extractor.projection
        melded._extractor = base._extractor
        melded.coreset = meld_coresets(
            [m.coreset for m in models], capacity=melded.capacity, device=base.coreset_device
        )
        melded.history = [{"melded": [m.history for m in models], "capacity": melded.capacity}]
        return melded
