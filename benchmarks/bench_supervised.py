"""Supervised segmentation (issue 17) against Sequential PatchCore, on a 2-core CPU budget.

Parts (each one run of < 15 min; results merge into one JSON, one key per run):
- ``mt``: few real labels. Train on k labelled defective images of the magnetic-tile val split
  (k = 5, 20, all; 80 % train / 20 % hold-out for early stopping and the threshold) plus as many
  free train images as negatives, test on magnetic-tile test; ``--init`` fine-tunes a
  synthetically pretrained model instead of starting from ImageNet.
- ``synth``: train on a labelled synthetic set (``seqcore synth``'s val+test of another seed;
  water stains are background), evaluate on the test split of the evaluation set (threshold on its val).
- ``ablation``: the ``mt`` all-labels run with uniform crops or without exposure stacking.
Cost (train seconds, inference ms/image) is recorded with every run.

Usage: PYTHONPATH=python python benchmarks/bench_supervised.py mt --k 5 20 all [--init M] [--tag T]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from run_record import machine_stamp
from seqcore.data import MagneticTileDataset, open_dataset
from seqcore.data.data_root import data_root
from seqcore.metrics import Evaluator
from seqcore.models import calibrate
from seqcore.models.supervised import SupervisedSegmenter, TrainConfig, labelled_images

RESULTS = Path(__file__).parent / "results" / "supervised_cpu.json"
PATCHCORE_MT = {"f1": 0.403, "mR_DW": 0.631, "source": "benchmarks/results/quality_default.json, mean of default_runs"}


def budget_config(args: argparse.Namespace, **changes) -> TrainConfig:
    """The CPU-budget training settings of this run."""
    base = dict(learning_rates=tuple(args.lr), epochs=args.epochs, crops_per_epoch=args.crops, batch_size=8,
                crop_size=args.crop, patience=4, plateau_patience=1)
    return TrainConfig(**(base | changes))


def evaluate(model: SupervisedSegmenter, split) -> tuple[dict, float]:
    """Test figures at the model's threshold (native resolution) and inference ms/image."""
    evaluator = Evaluator(split.defect_classes, split.impurity_classes)
    start = time.perf_counter()
    for sample in split:
        prediction = model.predict(sample)
        evaluator.add(prediction.anomaly_map, sample.gt, prediction.score, name=sample.name)
    ms = 1000 * (time.perf_counter() - start) / len(split)
    r = evaluator.compute(model.threshold)
    figures = {"precision": r.precision, "recall": r.recall, "f1": r.f1, "mR_DW": r.mR_DW,
               "pixel_auroc": r.pixel_auroc, "image_auroc": r.image_auroc}
    return figures, ms


def mt_split(root: Path, k: str, seed: int):
    """(train images, hold-out Samples) of the magnetic-tile val defects: k of them, 80/20, plus free negatives."""
    val = MagneticTileDataset(root, "val", on_error="raise")
    rng = np.random.default_rng(seed)
    defective = [i for i, e in enumerate(val.entries) if e.label != "free"]
    picked = list(rng.permutation(defective))[: None if k == "all" else int(k)]
    n_hold = max(1, round(0.2 * len(picked)))
    hold, train = picked[:n_hold], picked[n_hold:]
    free_val = [i for i, e in enumerate(val.entries) if e.label == "free"]
    free_train = MagneticTileDataset(root, "train", on_error="raise")
    negatives = [free_train[int(i)] for i in rng.permutation(len(free_train))[: len(train)]]
    train_images = labelled_images([val[int(i)] for i in train] + negatives, val.defect_classes)
    hold_samples = [val[int(i)] for i in hold] + [val[int(i)] for i in free_val[: 2 * n_hold]]
    return train_images, hold_samples, val.defect_classes, {"train_defective": len(train), "train_free": len(negatives),
                                                            "holdout_defective": n_hold, "holdout_free": 2 * n_hold}


def run_mt(args: argparse.Namespace, key: str, k: str, **changes) -> dict:
    root = data_root() / "magnetic_tile"
    train_images, hold, defects, counts = mt_split(root, k, args.seed)
    stacking = changes.pop("stacking", True)
    if args.init:
        model = SupervisedSegmenter.load(args.init)
        model.stacking = stacking
    else:
        model = SupervisedSegmenter(args.arch, args.encoder, stacking=stacking, seed=args.seed)
    config = budget_config(args, **changes)
    hold_images = labelled_images(hold, defects)
    report = model.fit(train_images, hold_images, config, progress=args.progress)
    calibrate(model, hold, defect_classes=defects, sigmas=None, progress=False)
    figures, ms = evaluate(model, MagneticTileDataset(root, "test", on_error="raise"))
    if args.save:
        model.save(Path(args.save) / f"{key}.safetensors")
    return {"k": k, "counts": counts, "arch": model.arch, "encoder": model.encoder, "stacking": model.stacking,
            "init": "synthetic pretraining" if args.init else "ImageNet", "config": report.config,
            "fit": {kk: v for kk, v in report.to_dict().items() if kk != "config"}, "threshold": model.threshold,
            "test": figures, "train_seconds": report.seconds, "test_ms_per_image": ms}


def run_synth(args: argparse.Namespace, key: str) -> dict:
    """Train on labelled synthetic images (another seed), test on the evaluation set."""
    train_root, eval_root = Path(args.synth_train), Path(args.synth_eval)
    parts = [open_dataset("synthetic", train_root, s, variant=args.variant) for s in ("val", "test")]
    images = labelled_images([x for p in parts for x in p], parts[0].defect_classes)
    val = open_dataset("synthetic", eval_root, "val", variant=args.variant)
    model = SupervisedSegmenter(args.arch, args.encoder, seed=args.seed)
    report = model.fit(images, labelled_images(val), budget_config(args), progress=args.progress)
    calibrate(model, val, sigmas=None, progress=False)
    figures, ms = evaluate(model, open_dataset("synthetic", eval_root, "test", variant=args.variant))
    if args.save:
        model.save(Path(args.save) / f"{key}.safetensors")
    return {"train_images": len(images), "variant": args.variant, "config": report.config,
            "fit": {kk: v for kk, v in report.to_dict().items() if kk != "config"}, "threshold": model.threshold,
            "test": figures, "train_seconds": report.seconds, "test_ms_per_image": ms}


def record(key: str, result: dict, args: argparse.Namespace) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {
        "protocol": __doc__.split("\n\n")[1], "patchcore_magnetic_tile_test": PATCHCORE_MT, "runs": {}}
    data["runs"][key] = result | {"machine": machine_stamp(), "command": args.command}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    t = result["test"]
    print(f"{key}: F1_PX {t['f1']:.3f} mR_DW {t['mR_DW']:.3f} train {result['train_seconds']:.0f} s "
          f"{result['test_ms_per_image']:.0f} ms/img")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("mt", "synth", "ablation"))
    parser.add_argument("--k", nargs="+", default=["all"], help="labelled defective images (mt): numbers or 'all'")
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="lite0")
    parser.add_argument("--init", help="pretrained supervised model file to fine-tune (mt)")
    parser.add_argument("--tag", default="", help="suffix of the result keys")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--crops", type=int, default=96, help="crops per epoch")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synth-train", help="seqcore synth output used for training (synth)")
    parser.add_argument("--synth-eval", help="seqcore synth output used for evaluation (synth)")
    parser.add_argument("--variant", default="Synth_WS")
    parser.add_argument("--save", help="folder for the trained model files")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    args.command = " ".join(__import__("sys").argv[1:])
    if args.part == "mt":
        for k in args.k:
            key = f"mt_{args.arch}_k{k}{args.tag}"
            record(key, run_mt(args, key, k), args)
    elif args.part == "ablation":
        for name, changes in (("uniform_crops", {"intensity_threshold": None}), ("no_stacking", {"stacking": False})):
            key = f"ablation_{name}_k{args.k[0]}{args.tag}"
            record(key, run_mt(args, key, args.k[0], **changes), args)
    else:
        key = f"synth_{args.arch}{args.tag}"
        record(key, run_synth(args, key), args)


if __name__ == "__main__":
    main()
