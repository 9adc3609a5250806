"""Report figures (matplotlib, Agg backend): coverage sweep per class, pixel PR curve, ROC and PRO."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seqcore.metrics.evaluator import AUPRO_FPR_LIMIT  # noqa: E402
from seqcore.metrics.result import COVERAGE_SWEEP_PERCENT, EvaluationResult  # noqa: E402

DPI = 110


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_coverage_sweep(result: EvaluationResult, path: Path) -> Path:
    """R_DW per class against the coverage threshold tau_cov (equally spaced sweep values)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.arange(len(COVERAGE_SWEEP_PERCENT))
    for cname, values in result.coverage_sweep.items():
        if all(v is None for v in values):
            continue
        y = [np.nan if v is None else 100 * v for v in values]
        impurity = cname in result.impurity_classes
        ax.plot(x, y, marker="o", linestyle="--" if impurity else "-",
                label=f"{cname} (impurity, lower is better)" if impurity else cname)
    ax.set_xticks(x, [str(p) for p in COVERAGE_SWEEP_PERCENT])
    ax.set_xlabel("coverage threshold τ_cov (% of instance pixels predicted)")
    ax.set_ylabel("defect-wise recall R_DW (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.set_title(f"Coverage sweep at threshold {result.threshold:.4g}")
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_pr_curve(result: EvaluationResult, path: Path) -> Path:
    """Pooled pixel precision-recall curve with the operating point and iso-F1 lines."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for f1 in (0.2, 0.4, 0.6, 0.8):
        r = np.linspace(f1 / (2 - f1) + 1e-3, 1, 100)
        ax.plot(r, f1 * r / (2 * r - f1), color="0.85", linewidth=0.8, zorder=0)
        ax.annotate(f"F1={f1}", (1.0, f1 / (2 - f1)), fontsize=7, color="0.55", ha="right", va="bottom")
    curve = result.curves.get("pixel_pr")
    if curve:
        ax.plot(curve["recall"], curve["precision"], label="pixel PR curve")
    if result.precision is not None and result.recall is not None:
        ax.plot(result.recall, result.precision, "o", color="crimson",
                label=f"threshold {result.threshold:.4g}: F1 = {100 * (result.f1 or 0):.1f} %")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("recall R_PX")
    ax.set_ylabel("precision P_PX")
    ax.set_title("Pixel precision-recall")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_roc(result: EvaluationResult, path: Path) -> Path:
    """Left: pixel and image ROC with AUROC; right: per-region overlap up to FPR 0.3 (AUPRO)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    for key, label, value in (("pixel_roc", "pixel", result.pixel_auroc), ("image_roc", "image", result.image_auroc)):
        curve = result.curves.get(key)
        if curve:
            left.plot(curve["fpr"], curve["tpr"], label=f"{label} AUROC = {100 * value:.1f} %")
    left.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
    left.set_xlabel("false positive rate")
    left.set_ylabel("true positive rate")
    left.set_title("ROC")
    left.legend(fontsize=8, loc="lower right")
    left.grid(alpha=0.3)
    pro = result.curves.get("pro")
    if pro:
        fpr, overlap = np.asarray(pro["fpr"]), np.asarray(pro["pro"])
        inside = fpr <= AUPRO_FPR_LIMIT * 1.2
        right.plot(fpr[inside], overlap[inside], label=f"AUPRO = {100 * result.aupro:.1f} %")
        right.axvspan(0, AUPRO_FPR_LIMIT, color="tab:blue", alpha=0.07, label="integrated (FPR ≤ 0.3)")
        right.legend(fontsize=8, loc="lower right")
    right.set_xlim(0, AUPRO_FPR_LIMIT * 1.2)
    right.set_ylim(0, 1.01)
    right.set_xlabel("false positive rate")
    right.set_ylabel("mean per-region overlap (PRO)")
    right.set_title("Per-region overlap")
    right.grid(alpha=0.3)
    return _save(fig, path)


def plot_pod(curves: list[dict], path: Path, title: str = "Probability of detection") -> Path:
    """POD against defect size per defect kind (metrics.pod.pod_curve), 95 % Clopper-Pearson band, a90 marks."""
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for curve in curves:
        x = curve["size_px"]
        a90 = curve["a90_px"]
        label = f"{curve['kind']} (a90 {'—' if a90 is None else f'{a90} px'})"
        (line,) = ax.plot(x, [100 * p for p in curve["pod"]], marker="o", label=label)
        ax.fill_between(x, [100 * v for v in curve["ci95_low"]], [100 * v for v in curve["ci95_high"]],
                        color=line.get_color(), alpha=0.15, linewidth=0)
        if a90 is not None:
            ax.axvline(a90, color=line.get_color(), linestyle=":", linewidth=1)
    ax.axhline(90, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xscale("log", base=2)
    sizes = sorted({s for c in curves for s in c["size_px"]})
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("defect size (px: dot/dent diameter, scratch/scar length)")
    ax.set_ylabel("probability of detection (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)
