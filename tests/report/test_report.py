"""Report writer: files, paper-style tables, undefined values, overlay colours."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth
from seqcore.report import table_i, table_ii, write_report
from seqcore.report.overlays import FN_COLOR, FP_COLOR, TP_COLOR, overlay


def _result(with_nominal: bool = True):
    rng = np.random.default_rng(0)
    ev = Evaluator(["scratch"], ["water_stain"])
    samples = []
    for i in range(4):
        class_mask = np.zeros((30, 40), int)
        if i or not with_nominal:
            class_mask[5:9, 5:20] = 1
        class_mask[15:25, 20:30] = 2
        gt = GroundTruth(class_mask, {1: "scratch", 2: "water_stain"})
        scores = rng.random((30, 40)).astype(np.float32) + (class_mask == 1) * 0.8 + (class_mask == 2) * 0.3
        ev.add(scores, gt, name=f"plate/{i}")
        samples.append((f"plate/{i}", (rng.random((30, 40)) * 255).astype(np.uint8), scores, gt))
    return ev.compute(ev.best_threshold()), samples


def test_write_report_creates_json_markdown_plots_and_overlays(tmp_path):
    result, samples = _result()
    report = write_report(result, tmp_path, samples[:2], title="Unit", details={"dataset": "toy"})
    text = report.read_text()
    assert "| Scenario | P_PX | R_PX | F1_PX | mR_DW |" in text
    assert "water_stain ↓ | impurity, lower is better" in text
    assert "![coverage sweep](plots/coverage_sweep.png)" in text and "- **dataset**: toy" in text
    for name in ("plots/coverage_sweep.png", "plots/pr_curve.png", "plots/roc.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    overlays = sorted((tmp_path / "overlays").glob("*.png"))
    assert [p.name for p in overlays] == ["00_plate_0.png", "01_plate_1.png"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["f1"] == pytest.approx(result.f1) and metrics["details"] == {"dataset": "toy"}
    assert set(metrics["R_DW"]) == {"scratch", "water_stain"}
    assert len(metrics["coverage_sweep"]["R_DW"]["scratch"]) == 12


def test_undefined_values_are_null_in_json_and_explained_in_markdown(tmp_path):
    result, _ = _result(with_nominal=False)
    write_report(result, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["image_auroc"] is None and "image_auroc" in metrics["undefined"]
    text = (tmp_path / "report.md").read_text()
    assert "`image_auroc` is undefined: no nominal images in this split" in text
    assert "| this run | n/a |" in text.split("Threshold-free")[1]


def _cells(table: str) -> list[list[str]]:
    """Body rows of a Markdown table as lists of cell texts (header and rule dropped)."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def test_table_cells_hold_the_pixel_counts_of_the_data():
    """Oracle: precision and per-class pixel recall counted directly on the maps at the threshold."""
    result, samples = _result()
    scores = np.stack([s[2] for s in samples])
    classes = np.stack([s[3].class_mask for s in samples])
    hit = scores >= result.threshold
    tp, fp = (hit & (classes == 1)).sum(), (hit & (classes != 1)).sum()
    recall = {name: hit[classes == c].mean() for c, name in ((1, "scratch"), (2, "water_stain"))}
    precision, r_px = tp / (tp + fp), recall["scratch"]
    assert _cells(table_ii({"Real": result})) == [
        ["Real", _pct(precision), _pct(r_px), _pct(2 * precision * r_px / (precision + r_px)), _pct(result.mR_DW)]
    ]
    assert _cells(table_i({"Real": result})) == [
        ["scratch", "defect", "3", _pct(recall["scratch"]), _pct(result.class_recall_dw["scratch"])],
        ["water_stain ↓", "impurity, lower is better", "4", _pct(recall["water_stain"]),
         _pct(result.class_recall_dw["water_stain"])],
    ]


def test_tables_compare_scenarios_side_by_side():
    a, _ = _result()
    b = replace(a, precision=0.1234, recall=0.5678, f1=None, mR_DW=0.25,
                class_recall_px={"scratch": 0.111, "water_stain": 0.999},
                class_recall_dw={"scratch": None, "water_stain": 0.5})
    text = table_i({"Real": a, "Synth": b})
    assert text.splitlines()[0] == "| Class | Kind | Instances | R_PX Real | R_DW Real | R_PX Synth | R_DW Synth |"
    assert [row[5:] for row in _cells(text)] == [["11.1", "n/a"], ["99.9", "50.0"]]
    assert _cells(table_ii({"Real": a, "Synth": b}))[1] == ["Synth", "12.3", "56.8", "n/a", "25.0"]


def test_overlay_colours_true_false_positives_and_misses():
    class_mask = np.zeros((4, 4), int)
    class_mask[0, :2] = 1
    gt = GroundTruth(class_mask, {1: "scratch"})
    scores = np.zeros((4, 4), np.float32)
    scores[0, 0] = scores[3, 3] = 1.0
    out = overlay(np.zeros((4, 4), np.uint8), scores, gt, 0.5, ["scratch"])
    dominant = lambda px: int(np.argmax(px))  # noqa: E731
    assert dominant(out[0, 0]) == dominant(TP_COLOR) == 1
    assert dominant(out[3, 3]) == dominant(FP_COLOR) == 0
    assert dominant(out[0, 1]) == dominant(FN_COLOR) == 2
    assert out[2, 2].tolist() == [0, 0, 0]


def test_bad_overlay_samples_raise(tmp_path):
    result, samples = _result()
    with pytest.raises(ValueError, match="must be"):
        write_report(result, tmp_path, [samples[0][:2]])
    with pytest.raises(ValueError, match="differ"):
        write_report(result, tmp_path, [(np.zeros((5, 5), np.uint8), samples[0][2], samples[0][3])])
