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


PIXEL_FIGURES = ("pixel_auroc", "aupro", "f1", "mR_DW")  # the pixel part of the selection rule (issue 14)


def pixel_rule(result: Any) -> float:
    """Mean of pixel AUROC, AUPRO, F1_PX and mR_DW (undefined figures count 0): how σ is chosen."""
    return sum(getattr(result, k) or 0.0 for k in PIXEL_FIGURES) / len(PIXEL_FIGURES)


def calibrate(
    method: Method,
    data: Iterable[Sample],
    defect_classes: Sequence[str] | None = None,
    impurity_classes: Sequence[str] | None = None,
    progress: bool = True,
    sigmas: Sequence[float] | None = (2.0, 4.0, 6.0, 8.0),
    rule: str = "f1",
) -> float:
    """Choose and store ``method.threshold`` by threshold ``rule`` (default: pooled pixel F1 maximum;
    see metrics.operating) on annotated validation data; the rule is stored as ``method.threshold_rule``.

    With ``sigmas`` (for methods with ``scores``/``render``/``blur_sigma``), first chooses and stores
    the blur σ among them that maximises ``pixel_rule`` at each σ's best threshold; each image's
    score grid is computed once and re-rendered per σ. ``sigmas=None`` keeps the method's σ.
    """
    from seqcore.metrics import Evaluator
    from seqcore.metrics.operating import ThresholdRule, choose_threshold

    parsed = ThresholdRule.parse(rule)

    defects = defect_classes if defect_classes is not None else getattr(data, "defect_classes", None)
    if not defects:
        raise ValueError("calibrate needs the defect class names (pass defect_classes or a dataset that has them)")
    impurities = list(impurity_classes if impurity_classes is not None else getattr(data, "impurity_classes", ()) or ())
    choose = sigmas is not None and all(hasattr(method, a) for a in ("scores", "render", "blur_sigma"))
    if sigmas is not None and not sigmas:
        raise ValueError("sigmas must name at least one blur σ (or be None to keep the method's)")
    cached: list[tuple[Any, Any]] = []  # (ground truth, what is needed to predict at any σ)
    total = len(data) if hasattr(data, "__len__") else None
    for sample in tqdm(data, total=total, desc="calibrate", unit="img", disable=not progress):
        if not isinstance(sample, Sample) or sample.gt is None:
            raise ValueError("calibrate needs Samples with ground truth")
        cached.append((sample.gt, method.scores(sample) if choose else method.predict(sample)))
        release_freed_memory()
    if not cached:
        raise ValueError("calibrate got no validation images")

    def evaluate(sigma: float | None) -> tuple[float, float]:
        evaluator = Evaluator(list(defects), impurities)
        for gt, item in cached:
            prediction = method.render(item, sigma) if choose else item
            evaluator.add(prediction.anomaly_map, gt, prediction.score)
        threshold = choose_threshold(evaluator, parsed).threshold
        return threshold, pixel_rule(evaluator.compute(threshold)) if choose else 0.0

    if choose:
        trials = {float(s): evaluate(float(s)) for s in sigmas}
        best = max(trials, key=lambda s: trials[s][1])  # first candidate wins ties
        method.blur_sigma, method.threshold = best, trials[best][0]
    else:
        method.threshold = evaluate(None)[0]
    method.threshold_rule = str(parsed)
    return method.threshold
