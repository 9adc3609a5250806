"""Method-independent inference loops: predictions over a dataset and threshold calibration."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tqdm.auto import tqdm

from seqcore.data.sample import Sample
from seqcore.features.memory import release_freed_memory
from seqcore.models.base import Method, Prediction


def predict_many(method: Method, data: Iterable, progress: bool = True) -> Iterator[tuple[Any, Prediction]]:
    """(item, prediction) for every item of a dataset or list, with a progress bar."""
    total = len(data) if hasattr(data, "__len__") else None
    for item in tqdm(data, total=total, desc="predict", unit="img", disable=not progress):
        yield item, method.predict(item)
        release_freed_memory()


def calibrate(
    method: Method,
    data: Iterable[Sample],
    defect_classes: Sequence[str] | None = None,
    impurity_classes: Sequence[str] | None = None,
    progress: bool = True,
) -> float:
    """Choose and store ``method.threshold`` maximizing pooled pixel F1 on annotated validation data."""
    from seqcore.metrics import Evaluator

    defects = defect_classes if defect_classes is not None else getattr(data, "defect_classes", None)
    if not defects:
        raise ValueError("calibrate needs the defect class names (pass defect_classes or a dataset that has them)")
    impurities = impurity_classes if impurity_classes is not None else getattr(data, "impurity_classes", ())
    evaluator = Evaluator(list(defects), list(impurities or ()))
    seen = 0
    for sample, prediction in predict_many(method, data, progress):
        if not isinstance(sample, Sample) or sample.gt is None:
            raise ValueError("calibrate needs Samples with ground truth")
        evaluator.add(prediction.anomaly_map, sample.gt, prediction.score)
        seen += 1
    if seen == 0:
        raise ValueError("calibrate got no validation images")
    method.threshold = float(evaluator.best_threshold())
    return method.threshold
