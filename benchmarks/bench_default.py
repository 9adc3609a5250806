"""The library default through the public API against the anomalib-equivalent baseline (issue 14).

``SequentialPatchCore()`` is fitted on each dataset's train split, ``calibrate`` chooses blur σ
and the max-F1 threshold on its validation split, and ``predict`` + ``Evaluator`` give the test
figures at native resolution; over image orders (seeded shuffles of the training images). The
baseline of ``bench_quality.py`` (greedy k-center, pool 3 zeros counted, σ 4, 256x256, NN image
score) is evaluated from the same cache. Each run is a child process so that its peak RSS is its own.

    nice python benchmarks/bench_default.py                       # both datasets, 2 orders
    python benchmarks/bench_default.py --limit 12 --capacity 64 --out /tmp/d.json   # smoke run
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "benchmarks"))

import quality_lib as ql  # noqa: E402

FIGURES = ("image_auroc", "pixel_auroc", "aupro", "f1", "mR_DW")
TARGETS = {"magnetic_tile": {"f1": 0.50, "image_auroc": 0.95, "mR_DW": 0.75},
           "kolektorsdd": {"image_auroc": 0.95, "pixel_auroc": 0.97}}


class Limited:
    """Every ``step``-th of the first ``limit`` samples of a dataset, optionally in a seeded shuffled
    order (indexable, re-iterable)."""

    def __init__(self, data, limit: int | None, order: int = 0, step: int = 1) -> None:
        self.data = data
        count = len(data) if limit is None else min(limit, len(data))
        self.index = list(range(0, count, step))
        if order:
            random.Random(order).shuffle(self.index)
        self.defect_classes = data.defect_classes
        self.impurity_classes = getattr(data, "impurity_classes", ())

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.data[self.index[i]]

    def __iter__(self):
        return (self.data[i] for i in self.index)


def figures(result) -> dict:
    return {k: getattr(result, k) for k in FIGURES}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_default(dataset: str, root: Path, order: int, capacity: int, limit: int | None) -> dict:
    """One fit / calibrate / test of the library default; figures and costs."""
    from seqcore import SequentialPatchCore
    from seqcore.metrics import Evaluator
    from seqcore.models import calibrate

    train_split, val_split, test_split = ql.SPLITS[dataset]
    model = SequentialPatchCore(capacity=capacity)
    train = Limited(ql.open_split(dataset, root, train_split), limit, order)
    start = time.perf_counter()
    report = model.fit(train, progress=False)
    fit_seconds = time.perf_counter() - start
    val = Limited(ql.open_split(dataset, root, val_split), limit)
    calibrate(model, val, progress=False)
    out = {"order": order, "fit_seconds": fit_seconds, "fit": report.to_dict(), "blur_sigma": model.blur_sigma,
           "threshold": model.threshold, "nominal_scales": model.nominal_scales}
    for name, data in (("val", val), ("test", Limited(ql.open_split(dataset, root, test_split), limit))):
        ev = Evaluator(list(data.defect_classes), list(data.impurity_classes))
        start = time.perf_counter()
        for sample in data:
            prediction = model.predict(sample)
            ev.add(prediction.anomaly_map, sample.gt, prediction.score, sample.name)
        out[f"{name}_ms_per_image"] = 1000.0 * (time.perf_counter() - start) / len(data)
        out[name] = figures(ev.compute(model.threshold))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_baseline(dataset: str, root: Path, capacity: int, limit: int | None, cache: Path) -> dict:
    """The anomalib-equivalent baseline of bench_quality.py (cached levels and banks where present)."""
    import bench_quality as bq

    runner = bq.Runner({dataset: root}, cache, capacity, limit)
    result = runner.evaluate(dataset, bq.BASELINE, 0)
    costs = bq.time_costs(runner, bq.BASELINE, dataset, 10 if limit else 40)
    keep = ("blur_sigma", "threshold")
    return {**{k: result[k] for k in keep}, "val": {k: result["val"][k] for k in FIGURES},
            "test": {k: result["test"][k] for k in FIGURES}, "fit_seconds": costs["fit_seconds"],
            "test_ms_per_image": costs["inference_ms_per_image"], "peak_rss_mb": peak_rss_mb(),
            "cost_note": "fit seconds from the first (cold-cache) run; peak RSS of a process that loads cached "
                         "backbone levels, not comparable to a fit"}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for split in ("val", "test"):
        out[split] = {}
        for key in FIGURES:
            values = [r[split][key] for r in runs if r[split][key] is not None]
            out[split][key] = float(np.mean(values)) if values else None
            out[split][f"{key}_spread"] = [r[split][key] for r in runs]
    for key in ("fit_seconds", "test_ms_per_image", "peak_rss_mb"):
        out[key] = float(np.mean([r[key] for r in runs]))
    out["blur_sigma"] = [r["blur_sigma"] for r in runs]
    return out


def child(args: argparse.Namespace, job: list[str]) -> dict:
    """Run one job in a fresh process and parse its JSON line."""
    command = [sys.executable, __file__, "--job", *job, "--capacity", str(args.capacity), "--data", str(args.data),
               "--cache", str(args.cache)] + (["--limit", str(args.limit)] if args.limit else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=["kolektorsdd", "magnetic_tile"], choices=list(ql.SPLITS))
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--orders", type=int, default=2)
    parser.add_argument("--limit", type=int, help="use only the first N images of every split (smoke runs)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/quality_cache"), help="baseline level cache")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality_default.json")
    parser.add_argument("--job", nargs="+", help=argparse.SUPPRESS)  # internal: run one job, print JSON
    args = parser.parse_args()
    if args.job:
        kind, dataset = args.job[0], args.job[1]
        root = args.data / dataset
        result = (run_default(dataset, root, int(args.job[2]), args.capacity, args.limit) if kind == "default"
                  else run_baseline(dataset, root, args.capacity, args.limit, args.cache))
        print(json.dumps(result))
        return
    from seqcore import SequentialPatchCore

    model = SequentialPatchCore()
    report = {
        "protocol": "public API: SequentialPatchCore() fit on train, calibrate (σ from (2, 4, 6, 8) by the pixel "
                    "rule, max-F1 threshold) on val, predict + Evaluator at native resolution; baseline as in "
                    "bench_quality.py, same process tree",
        "default": {"features": model.config.to_dict(), "scales": list(model.scales), "image_score": model.image_score,
                    "capacity": args.capacity, "strategy": model.strategy.name},
        "targets": TARGETS, "datasets": {},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "note": "2 cores shared with other jobs: timings are indicative only"},
    }
    for dataset in args.datasets:
        entry = {"baseline": child(args, ["baseline", dataset])}
        print(dataset, "baseline", json.dumps(entry["baseline"]["test"]), flush=True)
        runs = []
        for order in range(args.orders):
            runs.append(child(args, ["default", dataset, str(order)]))
            print(dataset, "default order", order, json.dumps(runs[-1]["test"]), flush=True)
        entry["default_runs"] = runs
        entry["default"] = summarise(runs)
        report["datasets"][dataset] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))  # partial results survive an interrupted run
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
