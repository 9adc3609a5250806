"""Quality on real data: magnetic-tile train → threshold on val → metrics on test (issue 4).

The sequential model and the greedy PatchCore baseline share one feature extractor: training
features are extracted once and fed to both, and every val/test image is extracted once and
scored by both. Writes JSON to benchmarks/results/ and a report folder per method.

    nice python benchmarks/bench_quality.py            # full run, 256x256 inputs (~8 min on 2 idle cores)
    python benchmarks/bench_quality.py --resize 256 --out benchmarks/results/quality_magnetic_tile_short256.json
    python benchmarks/bench_quality.py --orders 4 --no-report --out benchmarks/results/quality_magnetic_tile_orders.json
    python benchmarks/bench_quality.py --limit 20 --capacity 256 --out /tmp/q.json   # smoke run
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import json
import platform
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from seqcore.data import MagneticTileDataset  # noqa: E402
from seqcore.metrics import Evaluator  # noqa: E402
from seqcore.model import SequentialPatchCore  # noqa: E402

# A widely used library's PatchCore on this test split (same Lite0 weights, 256x256, K=2048), from issue 4.
REFERENCE = {
    "image_auroc": 0.879, "pixel_auroc": 0.936, "precision": 0.396, "recall": 0.412, "f1": 0.404,
    "mR_DW": 0.46, "R_DW": {"blowhole": 0.65, "break": 0.51, "crack": 0.21},
    "fit_seconds": 697.0, "coreset_seconds": 666.0, "peak_rss_gb": 2.9, "inference_ms_per_image": 47.0,
}


def data_root() -> Path:
    for path in (REPO.parent / "shared" / "data" / "magnetic_tile", Path("/work/shared/data/magnetic_tile")):
        if (path / "split.csv").is_file():
            return path
    raise SystemExit("magnetic-tile data not found beside the repository")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def evaluate_split(models: dict[str, SequentialPatchCore], split: MagneticTileDataset, limit: int | None,
                   sigmas: dict[str, list[float]]) -> dict[str, dict[float, Evaluator]]:
    """Evaluators per model and blur σ; each image is extracted once and scored by every model."""
    extractor = next(iter(models.values())).extractor
    evaluators = {name: {s: Evaluator(split.defect_classes) for s in sigmas[name]} for name in models}
    entries = range(len(split)) if limit is None else range(min(limit, len(split)))
    for index in entries:
        sample = split[index]
        prepared = extractor.prepare(sample.image)
        feats = extractor.extract(sample.image)
        gh, gw, d = feats.shape
        for name, model in models.items():
            grid = model.patch_scores(feats.reshape(-1, d)).reshape(gh, gw)
            for sigma, evaluator in evaluators[name].items():
                model.blur_sigma = sigma
                amap = model.anomaly_map(grid, prepared.shape[:2], sample.image.shape[:2])
                evaluator.add(amap, sample.gt, float(amap.max()), sample.name)
    return evaluators


def inference_ms(model: SequentialPatchCore, split: MagneticTileDataset, count: int) -> float:
    """End-to-end ``predict`` time per image (images already decoded), after one warm-up call."""
    images = [split[i].image for i in range(min(count, len(split)))]
    model.predict(images[0])
    start = time.perf_counter()
    for image in images:
        model.predict(image)
    return 1000.0 * (time.perf_counter() - start) / len(images)


def order_spread(methods: dict) -> dict:
    """Mean and standard deviation of the test figures over the sequential fits (original + shuffled orders)."""
    runs = [m["test"] for name, m in methods.items() if name == "sequential" or name.startswith("sequential@")]
    keys = ["f1", "precision", "recall", "pixel_auroc", "image_auroc", "aupro", "mR_DW"]
    values = {k: [r[k] for r in runs] for k in keys}
    values.update({f"R_DW.{c}": [r["R_DW"][c] for r in runs] for c in runs[0]["R_DW"]})
    out: dict = {"runs": len(runs)}
    for key, value in values.items():
        defined = [v for v in value if v is not None]  # undefined on tiny smoke splits
        out[key] = None if len(defined) < 2 else {"mean": float(np.mean(defined)), "sd": float(np.std(defined, ddof=1)),
                                                  "min": min(defined), "max": max(defined)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=[256, 256],
                        help="fixed input size (default 256 256, as the reference)")
    parser.add_argument("--resize", type=int, default=None,
                        help="resize the short side to this length instead of a fixed size (keeps aspect ratio)")
    parser.add_argument("--pool-kernel", type=int, default=3)
    parser.add_argument("--blur-sigmas", nargs="+", type=float, default=[2.0, 4.0, 6.0, 8.0],
                        help="blur σ candidates; the one with the best val pixel F1 is used on test")
    parser.add_argument("--limit", type=int, help="use only the first N images of every split (smoke runs)")
    parser.add_argument("--methods", nargs="+", default=["sequential", "greedy"])
    parser.add_argument("--orders", type=int, default=0,
                        help="also refit the sequential model on N shuffled image orders and report the spread")
    parser.add_argument("--no-report", dest="report", action="store_false", help="skip the report folders")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality_magnetic_tile.json")
    args = parser.parse_args()
    root = args.root or data_root()
    import torch

    train = MagneticTileDataset(root, "train")
    val, test = MagneticTileDataset(root, "val"), MagneticTileDataset(root, "test")
    settings = dict(capacity=args.capacity, resize_shape=tuple(args.size), pool_kernel=args.pool_kernel)
    if args.resize is not None:
        settings = dict(capacity=args.capacity, resize_short_side=args.resize, pool_kernel=args.pool_kernel)
    models = {name: SequentialPatchCore(method=name, **settings) for name in args.methods}
    orders = {f"sequential@order{k}": k for k in range(1, args.orders + 1)}  # same images, shuffled order
    models.update({name: SequentialPatchCore(method="sequential", **settings) for name in orders})
    shared = next(iter(models.values()))
    for model in models.values():
        model._extractor = shared.extractor  # identical features for every method

    n_train = len(train) if args.limit is None else min(args.limit, len(train))
    start = time.perf_counter()
    features = [shared.extractor.extract(train[i].image).reshape(-1, shared.dim) for i in range(n_train)]
    extract_seconds = time.perf_counter() - start
    patches = sum(len(f) for f in features)
    print(f"extracted {patches} patches of {n_train} images in {extract_seconds:.1f} s", flush=True)

    results: dict = {"methods": {}}
    for name, model in models.items():
        order = list(features)
        if name in orders:
            random.Random(orders[name]).shuffle(order)
        report = model.fit_features(lambda: iter(order), epochs=args.epochs)
        print(f"{name}: {report.to_dict()}", flush=True)
        results["methods"][name] = {"fit": report.to_dict(), "coreset_seconds": report.seconds,
                                    "fit_seconds": extract_seconds + report.seconds}
    del features

    val_eval = evaluate_split(models, val, args.limit, {name: args.blur_sigmas for name in models})
    chosen = {}
    for name, model in models.items():  # blur σ and threshold both chosen on val (max pixel F1)
        by_sigma = {s: ev.compute(ev.best_threshold()) for s, ev in val_eval[name].items()}
        sigma = max(by_sigma, key=lambda s: by_sigma[s].f1 or 0.0)
        chosen[name] = sigma
        model.blur_sigma, model.threshold = sigma, by_sigma[sigma].threshold
        results["methods"][name]["val_f1_by_sigma"] = {str(s): r.f1 for s, r in by_sigma.items()}
    test_eval = evaluate_split(models, test, args.limit, {name: [chosen[name]] for name in models})
    for name, model in models.items():
        test_result = test_eval[name][model.blur_sigma].compute(model.threshold)
        metrics = test_result.to_dict(with_curves=False)
        entry = results["methods"][name]
        entry.update(threshold=model.threshold, blur_sigma=model.blur_sigma, test=metrics)
        if name in orders:
            continue
        if args.report:
            from seqcore.report import write_report

            write_report(test_result, args.out.parent / f"{args.out.stem}_{name}", title=f"magnetic tile test: {name}",
                         details={"threshold": "max pixel F1 on val", **{k: str(v) for k, v in settings.items()}},
                         scenario=f"Real ({name})")
        entry["inference_ms_per_image"] = inference_ms(model, test, 40 if args.limit is None else 5)
        print(f"{name}: F1_PX {metrics['f1']}, image AUROC {metrics['image_auroc']}, pixel AUROC "
              f"{metrics['pixel_auroc']}, AUPRO {metrics['aupro']}, R_DW {metrics['R_DW']}", flush=True)

    if orders:
        results["sequential_order_spread"] = order_spread(results["methods"])
        print(f"spread over image orders: {results['sequential_order_spread']}", flush=True)
    results.update(
        dataset=str(root), splits={"train": n_train, "val": len(val) if args.limit is None else args.limit,
                                   "test": len(test) if args.limit is None else args.limit},
        settings={**settings, "epochs": args.epochs, "blur_sigma_candidates": args.blur_sigmas,
                  "backbone": shared.config.backbone,
                  "feature_dim": shared.dim, "greedy_projection_dim": shared.greedy_projection_dim},
        extract_seconds=extract_seconds, peak_rss_gb=peak_rss_gb(), reference=REFERENCE,
        machine={"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                 "platform": platform.platform(), "python": platform.python_version()},
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out} (peak RSS {results['peak_rss_gb']:.2f} GB)")


if __name__ == "__main__":
    main()
