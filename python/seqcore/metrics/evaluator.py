"""Streaming evaluation of anomaly maps against ground truth (docs/design.md §5) with bounded memory.

What is kept, and why it suffices:
- pixel scores of negatives (background + impurities) and positives (defect classes) as
  two histograms on a shared equal-width grid (:class:`ScoreHistogram`, 2^16 bins by
  default, range from ``score_range`` or the first map, grown by exact bin merging). The
  F1 sweep, pixel ROC/PR and the FPR axis of AUPRO are computed on the bin edges, where
  counts are exact; at a threshold between edges the false positives are counted in bins
  lying entirely at or above it (an undercount of at most one bin);
- every annotated instance's pixel scores (4 bytes per annotated pixel), so per-class
  pixel recall, true positives, defect-wise recall, the coverage sweep and the per-region
  overlaps of AUPRO are exact at any threshold;
- per image: name, image score, pixel maximum inside the ROI and whether it holds defect pixels;
- per image, each ``patch_size`` patch's map maximum and label (``metrics/patches.py``), for the
  patch-level accuracy, precision, recall and confusion matrix (raw map, no area filter).
Small-prediction filtering needs the binary map at the threshold, so it is applied while
adding maps: construct the evaluator with ``threshold`` and ``min_area`` (e.g. the
threshold found on the validation split) and ``compute`` with the same values.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqcore.data.sample import GroundTruth
from seqcore.metrics.curves import (
    area,
    area_up_to,
    decimate,
    pro_from_instances,
    rank_auroc,
    roc_from_scores,
    roc_from_tails,
)
from seqcore.metrics.histogram import ScoreHistogram
from seqcore.metrics.instances import ImageInstances, extract_instances
from seqcore.metrics.kernels import scan_pixels
from seqcore.metrics.patches import DEFAULT_PATCH, PatchAccumulator
from seqcore.metrics.prediction import binary_prediction
from seqcore.metrics.result import COVERAGE_SWEEP_PERCENT, EvaluationResult

AUPRO_FPR_LIMIT = 0.3
_NEGATIVE, _POSITIVE = 0, 1
_MAX_CLASS_ID = 1 << 20
_NO_ROI = np.ones((1, 1), bool)


class Evaluator:
    """Accumulates (score map, ground truth) pairs of one split; ``compute`` gives the metrics."""

    def __init__(
        self,
        defect_classes: Sequence[str],
        impurity_classes: Sequence[str] = (),
        n_bins: int = 1 << 16,
        score_range: tuple[float, float] | None = None,
        threshold: float | None = None,
        min_area: int = 0,
        patch_size: int = DEFAULT_PATCH,
    ):
        self.defect_classes = [str(c) for c in defect_classes]
        self.impurity_classes = [str(c) for c in impurity_classes]
        self.classes = self.defect_classes + self.impurity_classes
        if not self.defect_classes:
            raise ValueError("at least one defect class is needed")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"class names must be unique and not both defect and impurity: {self.classes}")
        if min_area < 0 or int(min_area) != min_area:
            raise ValueError(f"min_area must be a non-negative integer, got {min_area}")
        if min_area > 0 and threshold is None:
            raise ValueError("min_area filtering needs the threshold fixed at construction")
        if threshold is not None and not math.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        self.fixed_threshold = None if threshold is None else float(threshold)
        self.min_area = int(min_area)
        self._hist = ScoreHistogram(n_bins, 2, score_range)
        self._patches = PatchAccumulator(int(patch_size))  # patch-level figures (metrics/patches.py)
        self._instances: list[ImageInstances] = []
        self._predicted_pixels = 0  # filtered predictions inside the ROI (fixed-threshold mode)
        self.image_names: list[str | None] = []
        self.image_scores: list[float] = []
        self.image_maxima: list[float] = []  # pixel maximum inside the ROI (false calls, threshold rules)
        self.image_pixels: list[int] = []  # pixels inside the ROI (inspected area)
        self.image_labels: list[bool] = []

    @property
    def n_images(self) -> int:
        return len(self.image_scores)

    @property
    def n_bins(self) -> int:
        return self._hist.n_bins

    def add(
        self, score_map: np.ndarray, gt: GroundTruth, image_score: float | None = None, name: str | None = None
    ) -> None:
        """Accumulate one image; ``image_score`` defaults to the map's maximum inside the ROI."""
        where = f" (image {name!r})" if name is not None else ""
        score_map = self._checked_map(score_map, gt, where)
        max_id = int(gt.class_mask.max(initial=0))
        if max_id > _MAX_CLASS_ID:
            raise ValueError(f"class id {max_id} is above the supported {_MAX_CLASS_ID}{where}")
        classes = gt.class_mask if gt.class_mask.dtype.itemsize <= 4 else gt.class_mask.astype(np.int32)
        roi = gt.roi if gt.roi is not None else _NO_ROI
        smin, smax, n_bad, class_counts = scan_pixels(score_map, classes, roi, gt.roi is not None, max_id + 1)
        if n_bad:
            raise ValueError(f"score map contains {n_bad} NaN or inf values inside the region of interest{where}")
        if class_counts.sum() == 0:
            raise ValueError(f"the region of interest excludes every pixel{where}")
        if image_score is None:
            image_score = smax
        elif not math.isfinite(float(image_score)):
            raise ValueError(f"image score must be finite, got {image_score}{where}")

        present = np.flatnonzero(class_counts[1:]) + 1
        class_index = self._class_index(gt, present, where)
        row_of_class = np.full(max_id + 1, _NEGATIVE, np.int64)
        defect_ids = [cid for cid, idx in class_index.items() if idx < len(self.defect_classes)]
        row_of_class[defect_ids] = _POSITIVE
        self._hist.add_pixels(score_map, classes, gt.roi, row_of_class, (smin, smax))
        has_defect = bool(class_counts[defect_ids].sum() > 0)
        self._patches.add(score_map, np.isin(gt.class_mask, defect_ids), gt.roi)

        prediction = None
        if self.fixed_threshold is not None:
            prediction = binary_prediction(score_map, self.fixed_threshold, gt.roi, self.min_area)
            self._predicted_pixels += int(np.count_nonzero(prediction))
        self._instances.append(extract_instances(gt, score_map, class_index, present, prediction))
        self.image_names.append(name)
        self.image_scores.append(float(image_score))
        self.image_maxima.append(float(smax))
        self.image_pixels.append(int(class_counts.sum()))
        self.image_labels.append(has_defect)

    def _checked_map(self, score_map: np.ndarray, gt: GroundTruth, where: str) -> np.ndarray:
        score_map = np.asarray(score_map)
        if score_map.dtype.kind not in "fiu":
            raise ValueError(f"score map must be numeric, got dtype {score_map.dtype}{where}")
        if score_map.dtype not in (np.float32, np.float64):
            score_map = score_map.astype(np.float32)
        if score_map.ndim != 2:
            raise ValueError(f"score map must be 2-D (H, W), got shape {score_map.shape}{where}")
        if score_map.shape != gt.shape:
            raise ValueError(f"score map shape {score_map.shape} differs from ground truth shape {gt.shape}{where}")
        return score_map

    def _class_index(self, gt: GroundTruth, present: np.ndarray, where: str) -> dict[int, int]:
        """Index in ``self.classes`` of each class id present; unnamed or undeclared classes raise."""
        class_index: dict[int, int] = {}
        for cid in present.tolist():
            if cid not in gt.class_names:
                raise ValueError(f"class id {cid} in the mask has no name in class_names{where}")
            cname = gt.class_names[cid]
            if cname not in self.classes:
                raise ValueError(
                    f"unknown class {cname!r}{where}: declare it among defect classes {self.defect_classes}"
                    f" or impurity classes {self.impurity_classes}"
                )
            class_index[cid] = self.classes.index(cname)
        return class_index

    def pixel_histogram(self) -> ScoreHistogram:
        """The (negatives, positives) pixel histogram, e.g. for exporting to the HTML report."""
        return self._hist

    def best_threshold(self) -> float:
        """The bin edge maximizing pooled pixel F1 (middle of the best plateau of edges)."""
        if self.n_images == 0:
            raise ValueError("no images added: the split is empty")
        neg, pos = self._hist.at_or_above()
        if pos[0] == 0:
            raise ValueError("no defect pixels in this split: the F1-maximizing threshold is undefined")
        tp, fp = pos[:-1].astype(np.float64), neg[:-1].astype(np.float64)
        f1 = 2 * tp / (tp + fp + pos[0])
        best = int(np.argmax(f1))
        end = best
        while end + 1 < len(f1) and f1[end + 1] == f1[best]:
            end += 1
        return float(self._hist.edges()[(best + end) // 2])

    def compute(self, threshold: float, tau_cov: float = 0.0, min_area: int = 0) -> EvaluationResult:
        """All metrics at ``threshold``; instance detected when its predicted share > tau_cov."""
        if self.n_images == 0:
            raise ValueError("no images added: the split is empty")
        threshold = float(threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        if not 0.0 <= tau_cov <= 1.0:
            raise ValueError(f"tau_cov is a fraction in [0, 1], got {tau_cov}")
        if min_area > 0 and (self.fixed_threshold != threshold or self.min_area != min_area):
            raise ValueError(
                f"min_area={min_area} at threshold {threshold} needs an Evaluator built with "
                f"threshold={threshold}, min_area={min_area} (built with {self.fixed_threshold}, {self.min_area})"
            )
        classes, sizes, scores = self.instance_arrays()
        if min_area > 0:
            hits = np.concatenate([i.predicted for i in self._instances]) if len(sizes) else sizes
        else:
            hits = _per_instance_sums(scores >= threshold, sizes)
        undefined: dict[str, str] = {}
        notes: list[str] = []
        is_defect = classes < len(self.defect_classes)
        n_pos, tp = int(sizes[is_defect].sum()), int(hits[is_defect].sum())
        neg_tail = self._hist.at_or_above()[_NEGATIVE]
        if min_area > 0:
            fp = self._predicted_pixels - tp
        else:
            fp = int(neg_tail[self._hist.first_edge_at_or_above(threshold)])
        precision = _ratio(tp, tp + fp, "precision", "no pixel is predicted anomalous", undefined)
        recall = _ratio(tp, n_pos, "recall", "no defect pixels in this split", undefined)
        f1 = None
        if precision is None or recall is None:
            undefined["f1"] = "precision or recall undefined"
        else:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        per_class = self._per_class(classes, sizes, hits, tau_cov, undefined)
        mr_dw = self._mean_defect_recall(per_class["R_DW"], undefined, notes)
        curves: dict[str, dict[str, list[float]]] = {}
        image_auroc = self._image_auroc(curves, undefined)
        pixel_auroc, aupro = self._pixel_curves(classes, sizes, scores, curves, undefined)
        counts = {
            "images": self.n_images,
            "anomalous_images": int(sum(self.image_labels)),
            "positive_pixels": n_pos,
            "negative_pixels": int(neg_tail[0]),
            "tp": tp,
            "fp": fp,
            "fn": n_pos - tp,
        }
        return EvaluationResult(
            threshold=threshold, tau_cov=float(tau_cov), min_area=int(min_area),
            defect_classes=list(self.defect_classes), impurity_classes=list(self.impurity_classes),
            precision=precision, recall=recall, f1=f1, mR_DW=mr_dw,
            class_recall_px=per_class["R_PX"], class_recall_dw=per_class["R_DW"],
            instances=per_class["instances"], detected=per_class["detected"], coverage_sweep=per_class["sweep"],
            image_auroc=image_auroc, pixel_auroc=pixel_auroc, aupro=aupro,
            counts=counts, threshold_resolution=float(self._hist.width), curves=curves,
            undefined=undefined, notes=notes, patch=self._patches.compute(threshold),
        )

    def _per_class(self, classes: np.ndarray, sizes: np.ndarray, hits: np.ndarray, tau_cov: float,
                   undefined: dict[str, str]) -> dict[str, dict]:
        """R_PX, R_DW, instance and detection counts and the coverage sweep of every class."""
        out: dict[str, dict] = {"R_PX": {}, "R_DW": {}, "instances": {}, "detected": {}, "sweep": {}}
        for idx, cname in enumerate(self.classes):
            mine = classes == idx
            n_inst = int(mine.sum())
            detected = int(_detected(hits[mine], sizes[mine], tau_cov).sum())
            out["instances"][cname], out["detected"][cname] = n_inst, detected
            out["R_PX"][cname] = _ratio(int(hits[mine].sum()), int(sizes[mine].sum()), f"R_PX[{cname}]",
                                        f"no pixels of class {cname!r} in this split", undefined)
            out["R_DW"][cname] = _ratio(detected, n_inst, f"R_DW[{cname}]",
                                        f"no instances of class {cname!r} in this split", undefined)
            out["sweep"][cname] = [
                float(_detected(hits[mine], sizes[mine], p / 100).mean()) if n_inst else None
                for p in COVERAGE_SWEEP_PERCENT
            ]
        return out

    def _mean_defect_recall(self, r_dw: dict[str, float | None], undefined: dict[str, str],
                            notes: list[str]) -> float | None:
        """mR_DW over the defect classes that have instances (impurities never count)."""
        defined = [r_dw[c] for c in self.defect_classes if r_dw[c] is not None]
        if not defined:
            undefined["mR_DW"] = "no defect instances in this split"
            return None
        if len(defined) < len(self.defect_classes):
            missing = [c for c in self.defect_classes if r_dw[c] is None]
            notes.append(f"mR_DW averages {len(defined)} of {len(self.defect_classes)} defect classes "
                         f"(no instances of {', '.join(missing)})")
        return float(np.mean(defined))

    def _pixel_curves(self, classes: np.ndarray, sizes: np.ndarray, scores: np.ndarray, curves: dict,
                      undefined: dict[str, str]) -> tuple[float | None, float | None]:
        """Pixel AUROC and AUPRO from the histograms, adding ROC, PR and PRO curves to ``curves``."""
        neg_tail, pos_tail = self._hist.at_or_above()
        if pos_tail[0] == 0 or neg_tail[0] == 0:
            reason = "no defect pixels in this split" if pos_tail[0] == 0 else "no negative pixels in this split"
            undefined["pixel_auroc"] = undefined["aupro"] = reason
            return None, None
        fpr, tpr = roc_from_tails(pos_tail, neg_tail)
        fx, fy = decimate(fpr, tpr)
        curves["pixel_roc"] = {"fpr": fx, "tpr": fy}
        predicted = (pos_tail + neg_tail)[::-1]
        has_pred = predicted > 0
        rx, py = decimate(tpr[has_pred], pos_tail[::-1][has_pred] / predicted[has_pred])
        curves["pixel_pr"] = {"recall": rx, "precision": py}
        return area(fpr, tpr), self._aupro(classes, sizes, scores, fpr, curves)

    def instance_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class index, pixel count) of every instance and their float32 pixel scores, instance after instance."""
        classes = np.concatenate([i.classes for i in self._instances])
        sizes = np.concatenate([i.sizes for i in self._instances])
        scores = np.concatenate([i.scores for i in self._instances])
        return classes, sizes, scores

    def _image_auroc(self, curves: dict, undefined: dict[str, str]) -> float | None:
        labels = np.array(self.image_labels, bool)
        if labels.all() or not labels.any():
            kind = "anomalous" if not labels.any() else "nominal"
            undefined["image_auroc"] = f"no {kind} images in this split"
            return None
        scores = np.array(self.image_scores)
        fpr, tpr = roc_from_scores(scores, labels)
        fx, fy = decimate(fpr, tpr)
        curves["image_roc"] = {"fpr": fx, "tpr": fy}
        return rank_auroc(scores, labels)

    def _aupro(self, classes, sizes, scores, fpr, curves: dict) -> float:
        """Normalized area under the mean per-defect-instance overlap vs FPR, FPR in [0, 0.3]."""
        is_defect = classes < len(self.defect_classes)
        keep = np.repeat(is_defect, sizes)
        pro = pro_from_instances(self._hist.bin_index(scores[keep]), sizes[is_defect], self._hist.n_bins)[::-1]
        fx, fy = decimate(fpr, pro)
        curves["pro"] = {"fpr": fx, "pro": fy}
        return area_up_to(fpr, pro, AUPRO_FPR_LIMIT) / AUPRO_FPR_LIMIT


def _per_instance_sums(flags: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Sum of ``flags`` over each consecutive group of ``sizes`` (> 0) elements."""
    if len(sizes) == 0:
        return np.zeros(0, np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.add.reduceat(flags.astype(np.int64), starts)


def _detected(hits: np.ndarray, sizes: np.ndarray, tau_cov: float) -> np.ndarray:
    """Instances whose predicted share exceeds tau_cov (tau_cov = 1: the whole instance)."""
    if tau_cov >= 1.0:
        return hits == sizes
    return hits / sizes > tau_cov


def _ratio(num: int, den: int, key: str, reason: str, undefined: dict[str, str]) -> float | None:
    """num / den, or None with ``reason`` recorded under ``key`` when den is 0."""
    if den == 0:
        undefined[key] = reason
        return None
    return num / den
