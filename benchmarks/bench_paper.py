"""The paper protocol's committed figures: compact ``benchmarks/results/paper_cpu.json`` from a
``seqcore experiment paper`` output folder (Table II rows with spread, the claims vs the targets, what was run).

    seqcore experiment paper --out runs/paper ... --docs docs/experiments.md   # heavy: through the bench lock
    python benchmarks/bench_paper.py runs/paper --note "what was reduced"
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from run_record import machine_stamp, write_record

FIGURES = ("precision", "recall", "f1", "mR_DW", "R_DW:water_stain", "R_PX:water_stain")


def compact(doc: dict) -> dict:
    """Settings, sizes, per-row mean/sd/n of the Table II figures and the stain column, and the claims."""
    rows = {name: {"kind": r["kind"], "reference": r["reference"], "fraction": r["fraction"], "orders": r["orders"],
                   **{k: r[k] for k in FIGURES if k in r},
                   "seconds_order0": r["per_order"]["0"].get("seconds")}
            for name, r in doc["rows"].items()}
    return {"what": "seqcore experiment paper (docs/design.md §18): magnetic tile, water stains painted on val/test",
            "command": doc["command"], "settings": doc["settings"], "images": doc["images"],
            "protocol_minutes": round(doc["seconds"] / 60, 1), "cpu": doc["cpu"], "rows": rows,
            "claims": doc["claims"], "not_reproduced": doc["not_reproduced"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the --out folder of seqcore experiment paper")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "paper_cpu.json")
    parser.add_argument("--note", default="", help="what was reduced and why")
    args = parser.parse_args()
    record = {**machine_stamp(), **compact(json.loads((args.run / "results.json").read_text()))}
    if args.note:
        record["note"] = args.note
    write_record(record, args.out)


if __name__ == "__main__":
    main()
