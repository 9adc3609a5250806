"""Evaluation reports: paper-style Markdown tables, plots and TP/FP/FN overlays."""
from seqcore.report.tables import table_i, table_ii, threshold_free_table
from seqcore.report.writer import write_report

__all__ = ["table_i", "table_ii", "threshold_free_table", "write_report"]
