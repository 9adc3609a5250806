"""Inspection metrics (docs/design.md §5): pixel P/R/F1, defect-wise recall, AUROC/AUPRO, thresholds."""
from seqcore.data.sample import GroundTruth  # re-exported: annotations live in seqcore.data
from seqcore.metrics.evaluator import Evaluator
from seqcore.metrics.result import COVERAGE_SWEEP_PERCENT, EvaluationResult

__all__ = ["COVERAGE_SWEEP_PERCENT", "EvaluationResult", "Evaluator", "GroundTruth"]
