"""The paper's Table I / Table II protocol on magnetic tile (docs/design.md §7, §18): ``seqcore experiment paper``.

Every model has the same features (library defaults) and capacity K; it is fitted on nominal images,
thresholded on the stained magnetic-tile validation split and scored on the stained test split, where
the generator's water stains are impurities (``experiments.stained``). Fitted models and each row's
figures are kept in ``OUT/models`` and ``OUT/rows``, so a rerun resumes where the last one stopped.
Features are extracted once per image: training features are kept in memory for every fit of the
run, evaluation features by ``CachingExtractor``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from seqcore.data.dataset import Dataset
from seqcore.experiments.cached_features import CachingExtractor
from seqcore.experiments.scenarios import FRACTIONS, Row, paper_rows, real_name, synth_parts
from seqcore.experiments.stained import StainedDataset

TrainFeatures = list[list[np.ndarray]]  # per image, one (n, d) array per bank
CLOSE_POINTS = 0.02  # rows whose F1_PX differs from their reference's by less than this get order spread


@dataclass(frozen=True)
class PaperSettings:
    """Sizes of one run; ``None`` image counts mean the whole split."""

    capacity: int = 2048
    epochs: int = 5
    orders: int = 3
    synth_train: int = 60
    synth_size: int = 256
    real_train: int | None = None
    val_images: int | None = None
    test_images: int | None = None
    seed: int = 0
    quick: bool = False

    def __post_init__(self) -> None:
        if self.capacity < 2 or self.epochs < 1 or self.orders < 1 or self.synth_train < 1 or self.synth_size < 64:
            raise ValueError("need capacity >= 2, epochs >= 1, orders >= 1, synth_train >= 1, synth_size >= 64")
        for name in ("real_train", "val_images", "test_images"):
            value = getattr(self, name)
            if value is not None and value < 3:
                raise ValueError(f"{name} must be >= 3 images (or None for the whole split), got {value}")

    @classmethod
    def quick_run(cls, **changes: Any) -> PaperSettings:
        """The CI size: a few images, small K, two epochs (minutes on 2 cores)."""
        base = cls(capacity=64, epochs=2, orders=2, synth_train=2, synth_size=128, real_train=8,
                   val_images=6, test_images=6, quick=True)
        return replace(base, **changes)


def evenly_spaced(dataset: Dataset, count: int | None) -> Dataset:
    """``count`` entries spread evenly over the split (the table is grouped by class, so every class stays)."""
    if count is None or count >= len(dataset):
        return dataset
    index = np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(int))
    return Dataset([dataset.entries[i] for i in index], dataset.defect_classes, dataset.impurity_classes,
                   description=f"{dataset.description} ({len(index)} of {len(dataset)} images)")


def image_order(n: int, order: int, seed: int) -> np.ndarray:
    """Training-image order ``order``: 0 is the split's own order, others seeded permutations."""
    if order == 0:
        return np.arange(n)
    return np.random.default_rng([seed, order]).permutation(n)


def subset(items: Sequence, order: int, fraction: float, seed: int) -> list:
    """The first ``fraction`` of the items in image order ``order`` (at least one)."""
    index = image_order(len(items), order, seed)
    return [items[i] for i in index[: max(1, round(fraction * len(items)))]]


class PaperRun:
    """One output folder: data, cached models and rows, and the runner that fills them."""

    def __init__(self, out: Path, settings: PaperSettings, real_root: Path | None = None,
                 progress: bool = True) -> None:
        from seqcore.data import MagneticTileDataset
        from seqcore.data.data_root import data_root

        self.out, self.settings, self.progress = Path(out), settings, progress
        self.real_root = Path(real_root) if real_root is not None else data_root("magnetic_tile")
        for sub in ("models", "rows"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self._check_settings()
        s = settings
        self.train = evenly_spaced(MagneticTileDataset(self.real_root, "train"), s.real_train)
        self.val = StainedDataset(evenly_spaced(MagneticTileDataset(self.real_root, "val"), s.val_images), seed=s.seed)
        self.test = StainedDataset(evenly_spaced(MagneticTileDataset(self.real_root, "test"), s.test_images),
                                   seed=s.seed)
        self.rows = {row.name: row for row in paper_rows()}
        self._extractor = None
        self._cache: CachingExtractor | None = None
        self._features: dict[str, TrainFeatures] = {}
        self._models: dict[tuple[str, int], Any] = {}
        self._eval_samples: dict[str, list] = {}
        self.timings: dict[str, float] = {}

    # -- settings and files -------------------------------------------------------------------
    def _check_settings(self) -> None:
        """A folder holds one configuration: resuming with other settings would mix results."""
        path = self.out / "settings.json"
        mine = asdict(self.settings)
        if path.is_file():
            stored = json.loads(path.read_text())
            if stored != mine:
                diff = {k: (stored.get(k), v) for k, v in mine.items() if stored.get(k) != v}
                raise ValueError(f"{self.out} holds a run with other settings {diff}; use another --out")
        else:
            path.write_text(json.dumps(mine, indent=1))

    def _row_path(self, row: Row, order: int) -> Path:
        return self.out / "rows" / f"{row.slug}.o{order}.json"

    def _model_path(self, row: Row, order: int) -> Path:
        return self.out / "models" / f"{row.slug}.o{order}.safetensors"

    # -- features -----------------------------------------------------------------------------
    @property
    def extractor(self) -> Any:
        """The one backbone every model shares (same feature settings everywhere)."""
        if self._extractor is None:
            from seqcore.features import FeatureConfig, FeatureExtractor

            self._extractor = FeatureExtractor(FeatureConfig())
            self._cache = CachingExtractor(self._extractor)
        return self._extractor

    def new_model(self) -> Any:
        from seqcore.models.patchcore import SequentialPatchCore

        model = SequentialPatchCore(self.extractor.config, capacity=self.settings.capacity, seed=self.settings.seed)
        model._extractor, model._projection = self.extractor, self.extractor.projection
        return model

    def _extract(self, key: str, samples: Callable[[], Sequence]) -> TrainFeatures:
        """Training features of a list of samples, once per run (one array per bank per image)."""
        if key not in self._features:
            model = self.new_model()
            data = samples()
            self._features[key] = [
                [np.concatenate(parts) for parts in zip(*model.image_bank_patches(s.image, s.gt.roi if s.gt else None),
                                                         strict=True)]
                for s in tqdm(data, desc=f"features {key}", unit="img", disable=not self.progress)
            ]
        return self._features[key]

    def real_features(self, stained: bool) -> TrainFeatures:
        if stained:
            return self._extract("real train (stained)",
                                 lambda: StainedDataset(self.train, seed=self.settings.seed + 1))
        return self._extract("real train", lambda: self.train)

    # -- synthetic data -----------------------------------------------------------------------
    @property
    def synth_root(self) -> Path:
        """The generator's dual dataset with its light variants (train splits only), written once."""
        from seqcore.synth.dataset import DatasetConfig, write_dual_dataset

        root = self.out / "synth"
        if not (root / "dataset.json").is_file():
            s = self.settings
            config = DatasetConfig(n_train=s.synth_train, n_val=0, n_test=0, height=s.synth_size,
                                   width=s.synth_size, seed=s.seed, light_variants=True)
            write_dual_dataset(root, config, overwrite=True, progress=self.progress)
        return root

    def synth_samples(self, name: str, order: int) -> list:
        """Training samples of a synthetic model: its variant, with +DR also the rot90 and scale2 light variants."""
        from seqcore.data import SyntheticDataset

        stem, dr, _ = synth_parts(name)
        variants = [stem, f"{stem}_rot90", f"{stem}_scale2"] if dr else [stem]
        samples = [s for v in variants for s in SyntheticDataset(self.synth_root, v, "train")]
        return subset(samples, order, 1.0, self.settings.seed)

    # -- fitting ------------------------------------------------------------------------------
    def _fit_features(self, model: Any, features: TrainFeatures) -> dict[str, Any]:
        return model.fit_features(lambda: iter(features), epochs=self.settings.epochs, progress=False).to_dict()

    def _fit(self, row: Row, order: int) -> Any:
        """A freshly fitted (not yet calibrated) model of ``row`` in image order ``order``."""
        from seqcore.data.augment import default_augmentation
        from seqcore.models.patchcore import SequentialPatchCore

        s = self.settings
        if row.kind == "real":
            model = self.new_model()
            self._fit_features(model, subset(self.real_features(row.stained), order, row.fraction, s.seed))
            return model
        if row.kind == "synth":
            model = self.new_model()
            _, _, da = synth_parts(row.name)
            if da:  # new augmented views every epoch: nothing to cache
                model.fit(self.synth_samples(row.name, order), epochs=s.epochs,
                          augment=default_augmentation(s.seed + order), progress=False)
            else:  # the same images in another order: the order-0 features, permuted
                features = self._extract(row.name, lambda: self.synth_samples(row.name, 0))
                self._fit_features(model, subset(features, order, 1.0, s.seed))
            return model
        if row.kind == "ft":  # the order-0 synthetic model, continued on the real images of this order
            model = self._clone(self.model(self.rows[row.synth], 0))
            self._fit_features(model, subset(self.real_features(False), order, row.fraction, s.seed))
            return model
        if row.kind == "meld":  # real coreset first (the base: its nominal scales), then the synthetic one
            real = self.model(self.rows[real_name(row.fraction)], order)
            synth = self.model(self.rows[row.synth], 0)
            return SequentialPatchCore.meld([real, synth], capacity=round(s.capacity * row.capacity_factor))
        raise ValueError(f"unknown row kind {row.kind!r}")

    def _clone(self, model: Any) -> Any:
        """An independent copy of a fitted model sharing the backbone (rebuilt coresets decide as the originals)."""
        from seqcore.coreset import SequentialCoreset
        from seqcore.models.patchcore import SequentialPatchCore

        banks = [SequentialCoreset.from_points(b.points, capacity=b.capacity) for b in model.banks]
        return SequentialPatchCore.from_coreset(
            banks, self.extractor, history=model.history, scales=model.scales, nominal_scales=model.nominal_scales,
            image_score=model.image_score, blur_sigma=model.blur_sigma, seed=model.seed)

    def model(self, row: Row, order: int) -> Any:
        """The calibrated model of a row and order: from memory, from ``OUT/models``, or fitted now."""
        from seqcore.models.patchcore import SequentialPatchCore

        key = (row.name, order)
        if key in self._models:
            return self._models[key]
        path = self._model_path(row, order)
        if path.is_file():
            model = SequentialPatchCore.load(path)
            model._extractor = self.extractor
        else:
            start = time.perf_counter()
            model = self._fit(row, order)
            self.timings[f"fit {row.name} o{order}"] = time.perf_counter() - start
            self._calibrate(model)
            model.save(path)
        self._models[key] = model
        return model

    # -- evaluation ---------------------------------------------------------------------------
    def _samples(self, split: str) -> list:
        """The stained split as decoded samples (kept: every model is scored on them)."""
        if split not in self._eval_samples:
            data = self.val if split == "val" else self.test
            samples = list(tqdm(data, desc=f"stain {split}", unit="img", disable=not self.progress))
            for sample in samples:
                _ = sample.gt  # build the annotation once
            self._eval_samples[split] = samples
        return self._eval_samples[split]

    def _with_cache(self, model: Any, work: Callable[[], Any]) -> Any:
        """Run ``work`` with the model reading features through the evaluation cache."""
        _ = self.extractor
        model._extractor = self._cache
        try:
            return work()
        finally:
            model._extractor = self.extractor

    def _calibrate(self, model: Any) -> None:
        from seqcore.models import calibrate

        val = self._samples("val")
        self._with_cache(model, lambda: calibrate(model, val, self.val.defect_classes, self.val.impurity_classes,
                                                  progress=False))

    def _score(self, model: Any) -> dict[str, Any]:
        from seqcore.metrics import Evaluator

        def work() -> dict[str, Any]:
            evaluator = Evaluator(self.test.defect_classes, self.test.impurity_classes)
            for sample in self._samples("test"):
                prediction = model.predict(sample)
                evaluator.add(prediction.anomaly_map, sample.gt, prediction.score, name=sample.name)
            return evaluator.compute(model.threshold).to_dict(with_curves=False)

        return self._with_cache(model, work)

    def row_result(self, row: Row, order: int) -> dict[str, Any]:
        """The row's test figures in one image order (from ``OUT/rows`` when already computed)."""
        path = self._row_path(row, order)
        if path.is_file():
            return json.loads(path.read_text())
        start = time.perf_counter()
        model = self.model(row, order)
        result = self._score(model)
        result["blur_sigma"] = model.blur_sigma
        result["fit"] = model.history[-1] if model.history else {}
        result["seconds"] = round(time.perf_counter() - start, 1)  # fits of models it needed first included
        path.write_text(json.dumps(result, indent=1))
        return result

    def claim_rows(self) -> set[str]:
        """Rows the issue's targets are about (run first, so a time budget cuts the others)."""
        low = FRACTIONS[0]
        return {name for name, row in self.rows.items()
                if row.kind == "synth" or name in ("Real", "Real_WS", real_name(low))
                or (row.kind in ("ft", "meld") and row.fraction == low and row.capacity_factor == 1.0)}

    def run(self, budget_s: float | None = None) -> dict[str, dict[int, dict[str, Any]]]:
        """Order 0 and then the spread orders: of Real / Real_WS, of the other claim rows, of the rest.

        With ``budget_s``, no new row is started after that many seconds; rows not run are absent.
        """
        start = time.perf_counter()
        results: dict[str, dict[int, dict[str, Any]]] = {}
        claims, pair = self.claim_rows(), {"Real", "Real_WS"}  # the stain pair (with its spread) first of all
        for phase in (pair, claims - pair, set(self.rows) - claims - pair):
            names = [name for name in self.rows if name in phase]  # table order: sources first
            for name in tqdm(names, desc="paper rows", unit="row", disable=not self.progress):
                if budget_s is not None and time.perf_counter() - start > budget_s:
                    break
                results[name] = {0: self.row_result(self.rows[name], 0)}
            spread = [n for n in self.spread_rows(results) if n in phase]
            jobs = [(name, order) for name in spread for order in range(1, self.settings.orders)]
            for name, order in tqdm(jobs, desc="order spread", unit="fit", disable=not self.progress):
                if budget_s is not None and time.perf_counter() - start > budget_s:
                    break
                results[name][order] = self.row_result(self.rows[name], order)
        return {name: results[name] for name in self.rows if name in results}

    def spread_rows(self, results: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
        """Rows within ``CLOSE_POINTS`` F1_PX of their reference (both get spread), plus the Real_WS claim pair."""
        close = {"Real", "Real_WS"} & set(results)
        for row in self.rows.values():
            if row.reference is None or row.name not in results or row.reference not in results:
                continue
            a, b = results[row.name][0]["f1"], results[row.reference][0]["f1"]
            if a is not None and b is not None and abs(a - b) < CLOSE_POINTS:
                close |= {row.name, row.reference}
        return [name for name in self.rows if name in close]  # table order: sources before melds/fine-tunes


__all__ = ["FRACTIONS", "PaperRun", "PaperSettings", "evenly_spaced", "image_order", "subset"]
