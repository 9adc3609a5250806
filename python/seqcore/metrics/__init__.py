"""Inspection metrics (SPEC §5): pixel P/R/F1, defect-wise recall, AUROC/AUPRO, thresholds."""
from seqcore.metrics.evaluator import Evaluator
from seqcore.metrics.ground_truth import GroundTruth
from seqcore.metrics.result import COVERAGE_SWEEP_PERCENT, EvaluationResult

__all__ = ["COVERAGE_SWEEP_PERCENT", "EvaluationResult", "Evaluator", "GroundTruth"]
