"""The methods of issue 18 side by side through the public API, on a 2-core CPU budget.

One run = one (dataset, method): fit on train, ``calibrate`` on val (blur σ from 2, 4, 6, 8 by the
pixel rule, max-F1 threshold), predict + Evaluator on test at native resolution, the protocol of
``benchmarks/results/quality_default.json``. Recorded: image AUROC, pixel AUROC, AUPRO, F1_PX,
mR_DW, patch accuracy; fit seconds, peak RSS of the run's process (one run per process, so the figure is the
run's own), inference ms/image; and the budget (epochs, patches per image, train subset).
``--nlm H`` denoises every image (train, val, test) by non-local means first (the NLM ablation).
Results merge into one JSON, one key per run.

Usage: PYTHONPATH=python python benchmarks/bench_methods.py --dataset magnetic_tile --method simplenet
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from quality_lib import SPLITS, open_split
from run_record import machine_stamp
from seqcore.data.data_root import data_root
from seqcore.data.denoise import DenoisedDataset
from seqcore.metrics import Evaluator
from seqcore.models import calibrate

RESULTS = Path(__file__).parent / "results" / "methods_cpu.json"
BASELINE = "benchmarks/results/quality_default.json (default_runs: Sequential PatchCore, same protocol)"
FIGURES = ("image_auroc", "pixel_auroc", "aupro", "f1", "mR_DW")


def build(args: argparse.Namespace):
    """(model, fit keyword arguments, budget record) of the requested method with seqcore's default features."""
    from seqcore.features import FeatureConfig

    features = FeatureConfig()
    if args.method == "simplenet":
        from seqcore.models.simplenet import SimpleNet, SimpleNetConfig

        config = SimpleNetConfig(epochs=args.epochs, patches_per_image=args.patches_per_image)
        model = SimpleNet(features, noise_std=args.noise_std, seed=args.seed)
        return model, {"config": config}, {"epochs": args.epochs, "patches_per_image": args.patches_per_image,
                                           "noise_std": args.noise_std}
    if args.method == "cutpaste":
        from seqcore.models.cutpaste import CutPaste, CutPasteConfig

        config = CutPasteConfig(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch)
        return CutPaste(seed=args.seed), {"config": config}, {"epochs": args.epochs,
                                                              "steps_per_epoch": args.steps_per_epoch}
    from seqcore.models.patchcore import SequentialPatchCore, strategy_named

    model = SequentialPatchCore(features, strategy=strategy_named(args.method), seed=args.seed)
    return model, {"epochs": 5}, {"epochs": 5, "capacity": 2048}


def evaluate(model, split) -> tuple[dict, float]:
    """Test figures at the model's threshold and inference ms/image."""
    evaluator = Evaluator(split.defect_classes, split.impurity_classes)
    start = time.perf_counter()
    for sample in split:
        prediction = model.predict(sample)
        evaluator.add(prediction.anomaly_map, sample.gt, prediction.score, name=sample.name)
    ms = 1000 * (time.perf_counter() - start) / len(split)
    result = evaluator.compute(model.threshold)
    figures = {k: getattr(result, k) for k in FIGURES}
    figures["patch_accuracy"] = result.patch["accuracy"]  # 64-px patches at the threshold (metrics/patches.py)
    return figures, ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(SPLITS), required=True)
    parser.add_argument("--method", choices=("simplenet", "cutpaste", "sequential", "greedy"), required=True)
    parser.add_argument("--epochs", type=int, default=20, help="SimpleNet/CutPaste epochs (PatchCore: its default 5)")
    parser.add_argument("--steps-per-epoch", type=int, default=16, help="CutPaste steps per epoch")
    parser.add_argument("--patches-per-image", type=int, default=512)
    parser.add_argument("--noise-std", type=float, default=0.1)
    parser.add_argument("--train-limit", type=int, help="fit on the first N train images only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nlm", type=float, help="non-local-means strength applied to every image (ablation)")
    parser.add_argument("--tag", default="", help="suffix of the run's key in the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    root = data_root(args.dataset)
    train_name, val_name, test_name = SPLITS[args.dataset]
    def split(name: str):
        data = open_split(args.dataset, root, name)
        return data if args.nlm is None else DenoisedDataset(data, args.nlm)

    train = split(train_name)
    if args.train_limit:
        train = [train[i] for i in range(min(args.train_limit, len(train)))]
    model, fit_kwargs, budget = build(args)
    start = time.perf_counter()
    model.fit(train, **fit_kwargs)
    fit_seconds = time.perf_counter() - start
    calibrate(model, split(val_name))
    test, ms = evaluate(model, split(test_name))
    record = {"dataset": args.dataset, "method": args.method, "budget": budget | {"train_images": len(train)},
              "nlm": args.nlm,
              "blur_sigma": model.blur_sigma, "threshold": model.threshold, "test": test,
              "fit_seconds": fit_seconds, "test_ms_per_image": ms,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024} | machine_stamp()
    print(json.dumps(record, indent=2))
    results = json.loads(args.out.read_text()) if args.out.is_file() else {"baseline": BASELINE, "runs": {}}
    results["runs"][f"{args.dataset}/{args.method}{args.tag}"] = record
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
