"""Inspection metrics (SPEC §5): pixel P/R/F1, defect-wise recall, AUROC/AUPRO, thresholds."""
from seqcore.metrics.ground_truth import GroundTruth

__all__ = ["GroundTruth"]
