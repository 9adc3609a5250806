"""Threshold rules: choosing the operating point as an inspection engineer does (issue 21).

Rules (written ``NAME`` or ``NAME:VALUE``):
- ``f1``: the bin edge maximising pooled pixel F1 (``Evaluator.best_threshold``);
- ``recall-at-false-calls:R``: the highest mR_DW whose false-call rate per good image is at most R;
- ``impurity-cap:C``: the highest mR_DW with every impurity class's R_DW at most C;
- ``nominal-quantile:Q`` (or ``nominal-quantile:Q:image``): the Q-quantile (numpy's linear
  interpolation) of the good images' pixel maxima (or image scores), for lines without labelled defects.

Exactness: an instance is detected at t when more than τ_cov of its pixels score >= t, i.e. when
t <= its *detection score* (the k-th largest of its float32 pixel scores, k the smallest count whose
share exceeds τ_cov; float32 comparisons, as numpy does for the evaluator). A good image is a false
call when its pixel maximum inside the ROI is >= t (also in float32, so ties between map pixels and
instance pixels resolve alike). Every quantity is therefore a step
function changing only at these values, so evaluating at each of them and just above each of them
finds the exact optimum. Among the optimal candidates (a contiguous run, both curves being
non-increasing in t) the middle one is chosen, as ``best_threshold`` does. ``min_area`` filtering is
not modelled (it needs maps at a fixed threshold).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RULE_NAMES = ("f1", "recall-at-false-calls", "impurity-cap", "nominal-quantile")


@dataclass(frozen=True)
class ThresholdRule:
    """A parsed rule: its name, its parameter (None for f1) and, for nominal-quantile, the score used."""

    name: str
    value: float | None = None
    source: str = "max"  # nominal-quantile: "max" (pixel maxima) or "image" (image scores)

    @classmethod
    def parse(cls, text: str) -> ThresholdRule:
        """Rule from ``f1``, ``recall-at-false-calls:R``, ``impurity-cap:C`` or ``nominal-quantile:Q[:image]``."""
        parts = str(text).strip().split(":")
        name = parts[0]
        if name not in RULE_NAMES:
            raise ValueError(f"unknown threshold rule {text!r}: use one of {', '.join(RULE_NAMES)}")
        if name == "f1":
            if len(parts) != 1:
                raise ValueError(f"the f1 rule takes no value, got {text!r}")
            return cls("f1")
        if len(parts) < 2 or (len(parts) > 2 and name != "nominal-quantile") or len(parts) > 3:
            raise ValueError(f"threshold rule {text!r}: write {name}:VALUE")
        try:
            value = float(parts[1])
        except ValueError:
            raise ValueError(f"threshold rule {text!r}: {parts[1]!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (name != "recall-at-false-calls" and value > 1):
            limits = ">= 0" if name == "recall-at-false-calls" else "in [0, 1]"
            raise ValueError(f"threshold rule {text!r}: the value must be {limits}")
        source = parts[2] if len(parts) == 3 else "max"
        if source not in ("max", "image"):
            raise ValueError(f"threshold rule {text!r}: the score is 'max' or 'image', got {source!r}")
        return cls(name, value, source)

    def __str__(self) -> str:
        if self.value is None:
            return self.name
        tail = ":image" if self.source == "image" else ""
        return f"{self.name}:{self.value:g}{tail}"


@dataclass(frozen=True)
class OperatingPoint:
    """The chosen threshold with the figures the rule traded off at it."""

    rule: str
    threshold: float
    mR_DW: float | None
    false_calls_per_good_image: float | None
    impurity_R_DW: float | None


def detection_scores(sizes: np.ndarray, scores: np.ndarray, tau_cov: float) -> np.ndarray:
    """Per instance, the largest float32 t at which it is detected (share of pixels >= t above tau_cov)."""
    sizes = np.asarray(sizes, np.int64)
    if len(sizes) == 0:
        return np.zeros(0, np.float32)
    k = np.floor(tau_cov * sizes).astype(np.int64) + 1  # smallest count whose share exceeds tau_cov ...
    k = np.where((k - 1) / sizes > tau_cov, k - 1, k)  # ... with the evaluator's float division
    k = np.where(k / sizes <= tau_cov, k + 1, k)
    k = np.minimum(k, sizes) if tau_cov >= 1.0 else k
    owner = np.repeat(np.arange(len(sizes)), sizes)
    order = np.lexsort((-scores.astype(np.float64), owner))  # per instance, scores in descending order
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    out = np.full(len(sizes), -np.inf, np.float32)
    ok = k <= sizes
    out[ok] = scores[order[starts[ok] + k[ok] - 1]]
    return out


class OperatingCurves:
    """mR_DW, impurity R_DW and false calls per good image as exact step functions of the threshold."""

    def __init__(self, evaluator, tau_cov: float = 0.0):
        if evaluator.n_images == 0:
            raise ValueError("no images added: the split is empty")
        classes, sizes, scores = evaluator.instance_arrays()
        self.n_defect = len(evaluator.defect_classes)
        self.n_classes = len(evaluator.classes)
        self.classes = classes
        self.detection = detection_scores(sizes, scores, tau_cov)
        good = ~np.asarray(evaluator.image_labels, bool)
        self.good_maxima = np.asarray(evaluator.image_maxima, np.float64)[good].astype(np.float32)

    def candidates(self) -> np.ndarray:
        """Every value where a curve may step, and the next value above each (sorted, unique)."""
        d = np.concatenate((self.detection, self.good_maxima))
        d = d[np.isfinite(d)]
        values = np.concatenate((d, np.nextafter(d, np.float32(np.inf))))
        return np.unique(values[np.isfinite(values)]).astype(np.float64)

    def detected_share(self, thresholds: np.ndarray) -> np.ndarray:
        """(classes, thresholds) R_DW of each class at each threshold (NaN where a class has no instances)."""
        t32 = np.asarray(thresholds, np.float64).astype(np.float32)
        out = np.full((self.n_classes, len(t32)), np.nan)
        for c in range(self.n_classes):
            d = np.sort(self.detection[self.classes == c])
            if len(d):
                out[c] = (len(d) - np.searchsorted(d, t32, side="left")) / len(d)
        return out

    def mean_defect_recall(self, shares: np.ndarray) -> np.ndarray:
        defined = shares[: self.n_defect]
        if np.isnan(defined).all():
            raise ValueError("no defect instances in this split: use the nominal-quantile rule")
        return np.nanmean(defined, axis=0)

    def impurity_recall(self, shares: np.ndarray) -> np.ndarray | None:
        """Largest impurity-class R_DW at each threshold; None without impurity instances."""
        rows = shares[self.n_defect :]
        if rows.size == 0 or np.isnan(rows).all():
            return None
        return np.nanmax(rows, axis=0)

    def false_call_rate(self, thresholds: np.ndarray) -> np.ndarray | None:
        """Share of good images whose pixel maximum is >= t; None without good images."""
        if len(self.good_maxima) == 0:
            return None
        m = np.sort(self.good_maxima)
        t32 = np.asarray(thresholds, np.float64).astype(np.float32)
        return (len(m) - np.searchsorted(m, t32, side="left")) / len(m)


def choose_threshold(evaluator, rule: ThresholdRule | str, tau_cov: float = 0.0) -> OperatingPoint:
    """The threshold ``rule`` picks on the evaluator's split, with its trade-off figures."""
    rule = ThresholdRule.parse(rule) if isinstance(rule, str) else rule
    if rule.name == "f1":
        threshold = evaluator.best_threshold()
    elif rule.name == "nominal-quantile":
        good = ~np.asarray(evaluator.image_labels, bool)
        source = evaluator.image_maxima if rule.source == "max" else evaluator.image_scores
        values = np.asarray(source, np.float64)[good]
        if len(values) == 0:
            raise ValueError("the nominal-quantile rule needs good images (none without defects in this split)")
        threshold = float(np.quantile(values, rule.value))
    else:
        threshold = _constrained_optimum(OperatingCurves(evaluator, tau_cov), rule)
    return operating_point(evaluator, rule, threshold, tau_cov)


def _constrained_optimum(curves: OperatingCurves, rule: ThresholdRule) -> float:
    """Middle candidate of the run maximising mR_DW under the rule's constraint."""
    cand = curves.candidates()
    shares = curves.detected_share(cand)
    recall = curves.mean_defect_recall(shares)
    if rule.name == "recall-at-false-calls":
        cost = curves.false_call_rate(cand)
        if cost is None:
            raise ValueError("recall-at-false-calls needs good images (none without defects in this split)")
    else:
        cost = curves.impurity_recall(shares)
        if cost is None:
            raise ValueError("impurity-cap needs impurity instances (none in this split)")
    feasible = cost <= rule.value + 1e-12
    best = recall[feasible].max()
    run = np.flatnonzero(feasible & (recall == best))
    return float(cand[run[len(run) // 2]])


def operating_point(evaluator, rule: ThresholdRule | str, threshold: float, tau_cov: float = 0.0) -> OperatingPoint:
    """The rule's trade-off figures at ``threshold``."""
    curves = OperatingCurves(evaluator, tau_cov)
    t = np.array([threshold], np.float64)
    shares = curves.detected_share(t)
    defined = shares[: curves.n_defect]
    recall = None if np.isnan(defined).all() else float(np.nanmean(defined, axis=0)[0])
    fc = curves.false_call_rate(t)
    imp = curves.impurity_recall(shares)
    return OperatingPoint(str(rule), float(threshold), recall,
                          None if fc is None else float(fc[0]), None if imp is None else float(imp[0]))
