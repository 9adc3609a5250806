"""Markdown tables in the layout of the paper: Table I (per-class R_PX / R_DW) and Table II
(P_PX, R_PX, F1_PX, mR_DW), plus threshold-free measures and the coverage sweep.

Tables take ``{scenario name: EvaluationResult}`` so one call compares training scenarios
(Real, Synth, Synth_WS, ...) side by side, as the paper does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from seqcore.metrics.result import COVERAGE_SWEEP_PERCENT, EvaluationResult

UNDEFINED = "n/a"
LOWER_IS_BETTER = "impurity, lower is better"


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; None (undefined) as 'n/a'."""
    return UNDEFINED if value is None else f"{100 * value:.1f}"


def decimal(value: float | None, digits: int = 3) -> str:
    return UNDEFINED if value is None else f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align_left: int = 1) -> str:
    """A GitHub-flavoured Markdown table; the first ``align_left`` columns left-aligned, others right."""
    rule = [":---" if i < align_left else "---:" for i in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(str(c) for c in line) + " |" for line in lines)


def table_ii(results: Mapping[str, EvaluationResult]) -> str:
    """Table II: pooled pixel precision, recall, F1 and mean defect-wise recall (in %)."""
    rows = [[name, percent(r.precision), percent(r.recall), percent(r.f1), percent(r.mR_DW)]
            for name, r in results.items()]
    return markdown_table(["Scenario", "P_PX", "R_PX", "F1_PX", "mR_DW"], rows)


def table_i(results: Mapping[str, EvaluationResult]) -> str:
    """Table I: per-class R_PX and R_DW (in %) per scenario; impurity rows marked lower-is-better."""
    first = next(iter(results.values()))
    header = ["Class", "Kind", "Instances"]
    for name in results:
        header += [f"R_PX {name}" if len(results) > 1 else "R_PX", f"R_DW {name}" if len(results) > 1 else "R_DW"]
    rows = []
    for cname in first.defect_classes + first.impurity_classes:
        impurity = cname in first.impurity_classes
        row = [f"{cname} ↓" if impurity else cname, LOWER_IS_BETTER if impurity else "defect",
               str(first.instances.get(cname, 0))]
        for r in results.values():
            row += [percent(r.class_recall_px.get(cname)), percent(r.class_recall_dw.get(cname))]
        rows.append(row)
    return markdown_table(header, rows, align_left=2)


def threshold_free_table(results: Mapping[str, EvaluationResult]) -> str:
    """Image AUROC, pixel AUROC and AUPRO (FPR <= 0.3, normalized), in %."""
    rows = [[name, percent(r.image_auroc), percent(r.pixel_auroc), percent(r.aupro)] for name, r in results.items()]
    return markdown_table(["Scenario", "Image AUROC", "Pixel AUROC", "AUPRO (FPR ≤ 0.3)"], rows)


def coverage_table(result: EvaluationResult) -> str:
    """R_DW (in %) of each class at each coverage threshold tau_cov of the sweep."""
    header = ["Class"] + [f"{p} %" for p in COVERAGE_SWEEP_PERCENT]
    rows = []
    for cname, values in result.coverage_sweep.items():
        label = f"{cname} ↓" if cname in result.impurity_classes else cname
        rows.append([label] + [percent(v) for v in values])
    return markdown_table(header, rows)


def counts_table(result: EvaluationResult) -> str:
    """Images and pixel counts behind the pooled metrics."""
    c = result.counts
    header = ["Images", "Anomalous images", "Defect pixels", "Negative pixels", "TP", "FP", "FN"]
    row = [c["images"], c["anomalous_images"], c["positive_pixels"], c["negative_pixels"], c["tp"], c["fp"], c["fn"]]
    return markdown_table(header, [[f"{v:,}" for v in row]], align_left=0)
