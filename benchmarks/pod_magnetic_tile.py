"""Collects two `seqcore pod` runs on magnetic-tile val (nominal-quantile and f1 thresholds) into one results JSON
and one figure: benchmarks/results/pod_magnetic_tile.json, docs/pod_magnetic_tile.png.

The runs themselves (through the bench lock; the model is the library default trained on magnetic-tile train,
σ and the f1 threshold chosen on val):
  seqcore train --dataset magnetic-tile DATA --val val --out mt.safetensors
  seqcore pod mt.safetensors --dataset magnetic-tile DATA --split val --threshold-rule nominal-quantile:0.99 \
      --sizes 2,4,8,16,32,48 --trials 30 --out pod_nominal-quantile
  seqcore pod mt.safetensors --dataset magnetic-tile DATA --split val --sizes 2,4,8,16,32,48 --trials 10 --out pod_f1
Usage: python benchmarks/pod_magnetic_tile.py RUNS_DIR (holding mt.safetensors, pod_nominal-quantile/, pod_f1/).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = {"nominal-quantile:0.99 (good images only)": "pod_nominal-quantile", "f1 (model's threshold)": "pod_f1"}


def main(runs_dir: Path) -> None:
    results = {"what": "POD vs pasted defect size on magnetic-tile val good images (seqcore pod)",
               "commands": __doc__.split("(through the bench lock;")[1].split("Usage:")[0].strip(), "runs": {}}
    present = {label: folder for label, folder in RUNS.items() if (runs_dir / folder / "pod.json").is_file()}
    results["not_run"] = sorted(set(RUNS) - set(present))
    if (runs_dir / "mt.safetensors").is_file():
        from seqcore import load_model

        meta = load_model(runs_dir / "mt.safetensors", coreset=False)[1]
        keys = ("capacity", "scales", "image_score", "blur_sigma", "threshold", "history")
        results["model"] = {k: meta.get(k) for k in keys} | {"threshold_rule": meta.get("threshold_rule", "f1")}
    fig, axes = plt.subplots(1, len(present), figsize=(6 * len(present), 4.4), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (label, folder) in zip(axes, present.items(), strict=True):
        run = json.loads((runs_dir / folder / "pod.json").read_text())
        run.pop("model", None)
        results["runs"][label] = run
        for curve in run["curves"]:
            x = curve["size_px"]
            a90 = curve["a90_px"]
            (line,) = ax.plot(x, [100 * p for p in curve["pod"]], marker="o",
                              label=f"{curve['kind']} (a90 {'—' if a90 is None else f'{a90} px'})")
            ax.fill_between(x, [100 * v for v in curve["ci95_low"]], [100 * v for v in curve["ci95_high"]],
                            color=line.get_color(), alpha=0.12, linewidth=0)
        ax.axhline(90, color="0.5", linestyle="--", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(s) for s in x])
        ax.set_xlabel("defect size (px: dot/dent diameter, scratch/scar length)")
        ax.set_title(f"{label}\nthreshold {run['threshold']:.4g}, {run['good_images']} good images, "
                     f"{run['trials']} trials/size", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("probability of detection (%), 95 % band")
    fig.suptitle("Magnetic tile val: POD of pasted defects (seqcore pod)", fontsize=10)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "pod_magnetic_tile.png", dpi=110)
    out = ROOT / "benchmarks" / "results" / "pod_magnetic_tile.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out} and docs/pod_magnetic_tile.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
