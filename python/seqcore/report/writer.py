"""Evaluation report folder: metrics.json, report.md (paper-style tables), plots and overlays."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from seqcore.data.sample import GroundTruth
from seqcore.metrics.result import EvaluationResult
from seqcore.report import tables
from seqcore.report.overlays import save_overlay_figure
from seqcore.report.plots import plot_coverage_sweep, plot_pr_curve, plot_roc

OverlaySample = tuple  # (image, map, gt) or (name, image, map, gt)


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    samples: Sequence[OverlaySample] = (),
    title: str = "Evaluation",
    details: Mapping[str, str] | None = None,
    scenario: str = "this run",
) -> Path:
    """Write metrics.json, report.md, plots and overlays of ``samples`` into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    metrics = result.to_dict()
    if details:
        metrics["details"] = dict(details)
    overlays = _write_overlays(result, out / "overlays", samples)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plots = {
        "coverage": plot_coverage_sweep(result, out / "plots" / "coverage_sweep.png"),
        "pr": plot_pr_curve(result, out / "plots" / "pr_curve.png"),
        "roc": plot_roc(result, out / "plots" / "roc.png"),
    }
    report = out / "report.md"
    report.write_text(_markdown(result, title, details or {}, scenario, plots, overlays, out))
    return report


def _write_overlays(result: EvaluationResult, folder: Path, samples: Sequence[OverlaySample]) -> list[Path]:
    paths = []
    for number, sample in enumerate(samples):
        if len(sample) == 3:
            name, (image, score_map, gt) = f"image {number}", sample
        elif len(sample) == 4:
            name, image, score_map, gt = sample
        else:
            raise ValueError(f"overlay sample {number} must be (image, map, gt) or (name, image, map, gt)")
        if not isinstance(gt, GroundTruth):
            raise ValueError(f"overlay sample {number}: ground truth must be a GroundTruth, got {type(gt).__name__}")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{number:02d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', str(name))}.png"
        paths.append(save_overlay_figure(path, str(name), image, np.asarray(score_map), gt, result.threshold,
                                         result.defect_classes, result.impurity_classes, result.min_area))
    return paths


def _markdown(result: EvaluationResult, title: str, details: Mapping[str, str], scenario: str,
              plots: Mapping[str, Path], overlays: Sequence[Path], out: Path) -> str:
    runs = {scenario: result}
    rel = lambda p: p.relative_to(out).as_posix()  # noqa: E731
    lines = [f"# {title}", ""]
    for key, value in details.items():
        lines.append(f"- **{key}**: {value}")
    lines += [
        f"- **threshold**: {result.threshold:.6g} (histogram resolution {result.threshold_resolution:.3g}); "
        f"τ_cov = {100 * result.tau_cov:g} %; minimum predicted component area = {result.min_area} px",
        f"- **classes**: defects {', '.join(result.defect_classes)}"
        + (f"; impurities {', '.join(result.impurity_classes)} (not anomalies: lower recall is better)"
           if result.impurity_classes else ""),
        "",
        "## Pixel and defect-wise metrics (Table II layout, %)",
        "",
        tables.table_ii(runs),
        "",
        "## Per-class recall (Table I layout, %)",
        "",
        "R_PX: share of the class's pixels predicted anomalous. R_DW: share of its instances with more than "
        f"τ_cov = {100 * result.tau_cov:g} % of their pixels predicted. Rows marked ↓ are impurities: "
        "every detection there is a false alarm, so lower is better.",
        "",
        tables.table_i(runs),
        "",
        "## Threshold-free measures (%)",
        "",
        tables.threshold_free_table(runs),
        "",
        "## Coverage sweep: R_DW (%) against τ_cov",
        "",
        tables.coverage_table(result),
        "",
        f"![coverage sweep]({rel(plots['coverage'])})",
        "",
        "## Curves",
        "",
        f"![precision-recall]({rel(plots['pr'])})",
        "",
        f"![ROC and PRO]({rel(plots['roc'])})",
        "",
        "## Counts",
        "",
        tables.counts_table(result),
        "",
    ]
    if overlays:
        lines += ["## Overlays", "",
                  "Green: true positive, red: false positive, blue: false negative"
                  + (", yellow outline: impurity." if result.impurity_classes else "."), ""]
        lines += [f"![{p.stem}]({rel(p)})\n" for p in overlays]
    if result.undefined or result.notes:
        lines += ["## Undefined values and notes", ""]
        lines += [f"- `{key}` is undefined: {reason}" for key, reason in result.undefined.items()]
        lines += [f"- {note}" for note in result.notes]
        lines.append("")
    return "\n".join(lines)
