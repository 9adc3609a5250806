"""``seqcore experiment paper --quick`` on magnetic tile: report and JSON structure, real invariants, resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqcore.cli import main
from seqcore.experiments.scenarios import FRACTIONS, SYNTH_BASES, SYNTH_TRAININGS, paper_rows
from seqcore.experiments.stained import STAIN_CLASS

pytestmark = pytest.mark.slow


def test_quick_protocol_writes_both_tables_and_resumes(magnetic_tile_root: Path, tmp_path: Path) -> None:
    out, docs = tmp_path / "paper", tmp_path / "docs" / "experiments.md"
    args = ["experiment", "paper", "--out", str(out), "--quick", "--data", str(magnetic_tile_root), "--docs", str(docs)]
    assert main(args) == 0
    doc = json.loads((out / "results.json").read_text())
    rows = doc["rows"]
    assert list(rows) == [r.name for r in paper_rows()]  # every scenario, in table order
    for base in SYNTH_BASES:  # fine-tuned rows at 10, 30 and 100 % of the real images for every synthetic model
        for training in SYNTH_TRAININGS:
            fractions = sorted(r["fraction"] for name, r in rows.items()
                               if r["kind"] == "ft" and name.startswith(f"{base}{training} (ft"))
            assert fractions == sorted(FRACTIONS)
    assert doc["images"] == {"train": 8, "val": 6, "test": 6}
    for name, row in rows.items():
        assert row["orders"] and row["orders"][0] == 0
        for order, result in row["per_order"].items():
            assert STAIN_CLASS in result["R_DW"] and STAIN_CLASS in result["R_PX"]
            assert result["instances"][STAIN_CLASS] > 0 and result["classes"]["impurities"] == [STAIN_CLASS]
            values = [result[k] for k in ("precision", "recall", "f1", "mR_DW")]
            values += list(result["R_DW"].values()) + list(result["R_PX"].values())
            assert all(v is None or 0.0 <= v <= 1.0 for v in values), (name, order)
            # mR_DW is the mean over defect classes only: the stain column never enters it
            defects = [result["R_DW"][c] for c in result["classes"]["defects"] if result["R_DW"][c] is not None]
            assert result["mR_DW"] == pytest.approx(sum(defects) / len(defects))
        spread = len(row["orders"]) > 1
        assert (row["f1"]["sd"] is not None) == (spread and row["f1"]["n"] > 1)
    assert len(rows["Real"]["orders"]) == len(rows["Real_WS"]["orders"]) == 2  # the stain pair always has spread
    # melding into 2K keeps every point of both K-sized sources
    assert rows["Melding (100 %, 2K)"]["per_order"]["0"]["fit"]["capacity"] == 128
    pairs = {(c["clean"], c["stained"]) for c in doc["claims"]["water_stains"]}
    assert ("Real", "Real_WS") in pairs and ("Synth", "Synth_WS") in pairs
    assert {c["row"] for c in doc["claims"]["low_data"]} >= {"Synth (ft 10 %)", "Melding (10 %)", "Melding_WS (10 %)"}
    report = (out / "report.md").read_text()
    assert docs.read_text() == report and (docs.parent / "experiments_stains.png").is_file()
    assert (out / "experiments_stains.png").is_file() and "experiments_stains.png" in report
    for text in ("## Table II", "## Table I", f"R_DW {STAIN_CLASS} ↓", f"R_PX {STAIN_CLASS} ↓", "Real_WS",
                 "Synth_WS+DR+DA (ft 10 %)", "Melding_WS (100 %, K/2)", "without an analogue", " ± "):
        assert text in report, text
    # a rerun resumes from OUT/rows: same figures, nothing refitted
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    assert main(args) == 0
    assert json.loads((out / "results.json").read_text())["rows"] == rows
    assert {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()} == stamps
    with pytest.raises(ValueError, match="other settings"):
        from seqcore.experiments.paper import PaperRun, PaperSettings
        PaperRun(out, PaperSettings.quick_run(capacity=32), magnetic_tile_root)
