"""Ray sharded fit vs the single-process fit (issue 16): quality of a 4-shard melded model, Ray overhead,
and the per-image / per-meld times the cost model of docs/design.md § Scaling is checked against.

Per dataset: the library default ``SequentialPatchCore()`` fitted in this process on the train
images in ``--orders`` seeded orders (the spread), and by ``fit_distributed`` on ``--shards`` shards
over a local Ray of ``--workers`` CPUs; each model gets ``calibrate`` (σ and max-F1 threshold on val)
and test figures from ``predict`` + ``Evaluator`` at native resolution (bench_default.py's protocol).
``--every N`` keeps every N-th image of every split (the same images for every model).

    flock -w 3600 /work/notes/bench.lock nice -n 5 python benchmarks/bench_distributed.py --every 8
    python benchmarks/bench_distributed.py --every 40 --datasets kolektorsdd --capacity 256 --out /tmp/d.json  # smoke
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "benchmarks"))

import quality_lib as ql  # noqa: E402
from bench_default import Limited  # noqa: E402
from run_record import machine_stamp, write_record  # noqa: E402

FIGURES = ("f1", "pixel_auroc", "mR_DW", "image_auroc")


def evaluate(model, dataset: str, root: Path, step: int) -> dict:
    """Calibrate on val, then test figures (bench_default.py's protocol)."""
    from seqcore.metrics import Evaluator
    from seqcore.models import calibrate

    _, val_split, test_split = ql.SPLITS[dataset]
    calibrate(model, Limited(ql.open_split(dataset, root, val_split), None, step=step), progress=False)
    test = Limited(ql.open_split(dataset, root, test_split), None, step=step)
    ev = Evaluator(list(test.defect_classes), list(test.impurity_classes))
    for sample in test:
        prediction = model.predict(sample)
        ev.add(prediction.anomaly_map, sample.gt, prediction.score, sample.name)
    result = ev.compute(model.threshold)
    return {"blur_sigma": model.blur_sigma, "test": {k: getattr(result, k) for k in FIGURES}}


def run_dataset(dataset: str, root: Path, args: argparse.Namespace) -> dict:
    from seqcore import SequentialPatchCore
    from seqcore.distributed import fit_distributed

    train_split = ql.SPLITS[dataset][0]
    single = []
    for order in range(args.orders):
        train = Limited(ql.open_split(dataset, root, train_split), None, order, args.every)
        model = SequentialPatchCore(capacity=args.capacity)
        start = time.perf_counter()
        report = model.fit(train, progress=False)
        seconds = time.perf_counter() - start
        per_pass = seconds / (len(train) * report.epochs)
        single.append({"order": order, "fit_seconds": seconds, "epochs": report.epochs,
                       "seconds_per_image_pass": per_pass, **evaluate(model, dataset, root, args.every)})
        print(dataset, "single order", order, single[-1]["test"], f"{seconds:.1f} s", flush=True)
    train = Limited(ql.open_split(dataset, root, train_split), None, step=args.every)
    model, dist = fit_distributed(train, SequentialPatchCore(capacity=args.capacity), workers=args.workers,
                                  shards=args.shards, progress=False)
    sharded = {"shards": args.shards, "workers": args.workers, "fit_seconds": dist.seconds,
               "shard_seconds": dist.shard_seconds, "meld_seconds": dist.meld_seconds, "tree_depth": dist.tree_depth,
               "images": dist.images, "epochs": [s["epochs"] for s in dist.shards],
               **evaluate(model, dataset, root, args.every)}
    print(dataset, "ray", args.shards, "shards", sharded["test"], f"{dist.seconds:.1f} s", flush=True)
    spread = {k: [min(r["test"][k] for r in single), max(r["test"][k] for r in single)] for k in FIGURES}
    within = {k: spread[k][0] - 1e-9 <= sharded["test"][k] <= spread[k][1] + 1e-9 for k in FIGURES}
    single_seconds = float(np.mean([r["fit_seconds"] for r in single]))
    return {"train_images": len(train), "single": single, "sharded": sharded, "single_spread": spread,
            "sharded_within_spread": within,
            "ray_over_single_fit_seconds": dist.seconds / single_seconds,
            "ray_task_sum_over_single": float(np.sum(dist.shard_seconds)) / single_seconds}


def meld_costs(dims: tuple[int, ...], capacities: tuple[int, ...], fan_in: int) -> list[dict]:
    """Seconds of one coreset meld of ``fan_in`` random K×d banks into K (the meld tree's unit of work)."""
    from seqcore.coreset import SequentialCoreset, meld

    rng = np.random.default_rng(0)
    out = []
    for d in dims:
        for k in capacities:
            banks = [SequentialCoreset.from_points(rng.standard_normal((k, d)).astype(np.float32), capacity=k)
                     for _ in range(fan_in)]
            start = time.perf_counter()
            meld(banks, capacity=k)
            out.append({"d": d, "K": k, "fan_in": fan_in, "seconds": time.perf_counter() - start})
            print("meld", out[-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=["magnetic_tile", "kolektorsdd"], choices=list(ql.SPLITS))
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--orders", type=int, default=2)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=int, default=1, help="keep every N-th image of every split (1: all)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "distributed_cpu.json")
    args = parser.parse_args()
    from seqcore import SequentialPatchCore

    record = {
        "protocol": f"SequentialPatchCore(capacity={args.capacity}) defaults; every {args.every}-th image of every "
                    f"split; single-process fit over {args.orders} image orders vs fit_distributed on {args.shards} "
                    f"shards / {args.workers} Ray workers (local); calibrate on val; test figures at native resolution",
        **machine_stamp(), "datasets": {},
    }
    for dataset in args.datasets:
        record["datasets"][dataset] = run_dataset(dataset, args.data / dataset, args)
        write_record(record, args.out)  # partial results survive an interrupted run
    record["meld_seconds"] = meld_costs((SequentialPatchCore().dim, 64), (512, 2048), 4)
    write_record(record, args.out)


if __name__ == "__main__":
    main()
