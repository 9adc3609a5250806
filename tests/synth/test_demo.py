"""The demo command end to end on a tiny configuration (offline backbone, CPU)."""
from __future__ import annotations

import json
from pathlib import Path

from seqcore.cli import main


def test_demo_writes_report_metrics_and_models(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--train", "2", "--val", "2", "--test", "2",
                 "--size", "64", "--capacity", "64", "--epochs", "2", "--overlays", "1"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["scenarios"]) == {"Synth", "Synth_WS"}
    for scenario in ("Synth", "Synth_WS"):
        result = metrics["scenarios"][scenario]
        assert result["threshold"] is not None and "water_stain" in result["R_DW"]
        assert (out / scenario / "model.safetensors").is_file()
        assert (out / scenario / "report.md").is_file()
    report = (out / "report.md").read_text()
    assert "Synth_WS" in report and "| water_stain" in report
    assert (out / "data" / "Synth_WS" / "test" / "images" / "test_0000.png").is_file()
    assert (out / "examples.png").is_file() and "examples.png" in report
    assert main(["demo", "--out", str(out), "--train", "0"]) == 2
