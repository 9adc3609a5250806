"""Machine and load stamps and the JSON writer shared by the CPU micro-benchmarks.

The load average before and after a run tells whether other work shared the CPUs.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine_stamp() -> dict:
    """Architecture, CPU count and the 1-minute load average at the start of the run."""
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_average_at_start": os.getloadavg()[0]}


def write_record(results: dict, out: Path) -> None:
    """Adds the load average at the end, writes ``results`` as indented JSON to ``out`` and says so."""
    results["load_average_at_end"] = os.getloadavg()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
