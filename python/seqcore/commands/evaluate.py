"""`seqcore evaluate`: score a predictions folder (maps/<name>.npy) against a dataset's ground truth."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seqcore.data.annotations import (
    AnnotatedImage,
    AnnotatedSplit,
    labelme_split,
    magnetic_tile_split,
    mask_folder_split,
    mvtec_split,
    synthetic_split,
)
from seqcore.data.images import ImageReadError, read_image
from seqcore.metrics.evaluator import Evaluator
from seqcore.report.writer import write_report

NAME = "evaluate"
HELP = "Compute inspection metrics of predicted anomaly maps and write metrics.json, report.md and plots."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", type=Path, help="folder written by `seqcore predict` (maps/<name>.npy)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder for the report")
    data = parser.add_argument_group("ground truth (choose one)")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset-root", type=Path, help="magnetic-tile root (split.csv, MT_<Class>/Imgs/)")
    source.add_argument("--synthetic", type=Path, help="`seqcore synth` output root (use with --variant)")
    source.add_argument("--mvtec", type=Path, help="MVTec AD root (with --category) or category folder")
    source.add_argument("--masks", type=Path, help="folder of binary mask PNGs <name>.png of one class")
    source.add_argument("--labelme", type=Path, help="folder of LabelMe JSON files (use with --label-map)")
    data.add_argument("--split", default="test", help="split to report on (magnetic tile, synthetic)")
    data.add_argument("--val-split", default="val",
                      help="split whose pixel-F1 maximum sets the threshold (magnetic tile, synthetic)")
    data.add_argument("--variant", default="synth_ws", help="synthetic variant folder")
    data.add_argument("--category", help="MVTec AD category under the --mvtec root")
    data.add_argument("--class-name", default="defect", help="class of the --masks folder")
    data.add_argument("--images", type=Path, help="images for overlays of --masks (<name>.<ext>)")
    data.add_argument("--label-map", type=Path, help='JSON {"LabelMe label": "class name"}')
    data.add_argument("--defects", help="comma-separated defect classes (LabelMe; default: every mapped class"
                                        " not listed in --impurities)")
    data.add_argument("--impurities", default="", help="comma-separated impurity classes (LabelMe)")
    parser.add_argument("--threshold", type=float,
                        help="fixed threshold (default: pixel-F1 maximum on --val-split, else on the split itself)")
    parser.add_argument("--tau-cov", type=float, default=0.0, help="coverage fraction an instance must exceed")
    parser.add_argument("--min-area", type=int, default=0, help="drop predicted components under this many pixels")
    parser.add_argument("--n-bins", type=int, default=1 << 16, help="histogram bins of the pixel statistics")
    parser.add_argument("--overlays", type=int, default=6, help="number of overlay figures")
    parser.add_argument("--title", default=None, help="report title")


def run(args: argparse.Namespace) -> int:
    maps_dir = args.predictions / "maps"
    if not maps_dir.is_dir():
        raise FileNotFoundError(f"{maps_dir} not found: pass the folder written by `seqcore predict`")
    split, val_split, dataset = _splits(args)
    details = {"predictions": str(args.predictions), "dataset": dataset}
    threshold = args.threshold
    if threshold is not None:
        details["threshold source"] = "given on the command line"
    elif val_split is not None and _has_any_map(maps_dir, val_split):
        threshold = _evaluate(maps_dir, val_split, args.n_bins, desc=f"threshold on {args.val_split}").best_threshold()
        details["threshold source"] = f"pixel-F1 maximum on split '{args.val_split}'"
    else:
        threshold = _evaluate(maps_dir, split, args.n_bins, desc="threshold").best_threshold()
        details["threshold source"] = "pixel-F1 maximum on the evaluated images themselves (optimistic)"
    evaluator = _evaluate(maps_dir, split, args.n_bins, threshold=threshold, min_area=args.min_area, desc="evaluate")
    result = evaluator.compute(threshold, tau_cov=args.tau_cov, min_area=args.min_area)
    samples = [_overlay_sample(maps_dir, item) for item in _pick_overlays(evaluator, split, args.overlays)]
    report = write_report(result, args.out, [s for s in samples if s is not None],
                          title=args.title or f"seqcore evaluation — {dataset}", details=details)
    print(f"P_PX {_pc(result.precision)}  R_PX {_pc(result.recall)}  F1_PX {_pc(result.f1)}  "
          f"mR_DW {_pc(result.mR_DW)}  threshold {threshold:.6g}")
    print(f"report: {report}")
    return 0


def _pc(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _splits(args: argparse.Namespace) -> tuple[AnnotatedSplit, AnnotatedSplit | None, str]:
    """The split to report on, the threshold split (if the dataset has one) and a dataset label."""
    if args.dataset_root is not None:
        other = magnetic_tile_split(args.dataset_root, args.val_split) if args.val_split != args.split else None
        return magnetic_tile_split(args.dataset_root, args.split), other, f"magnetic tile, split '{args.split}'"
    if args.synthetic is not None:
        other = (synthetic_split(args.synthetic, args.variant, args.val_split)
                 if args.val_split != args.split and (args.synthetic / args.variant / args.val_split).is_dir() else None)
        return (synthetic_split(args.synthetic, args.variant, args.split), other,
                f"synthetic {args.variant}, split '{args.split}'")
    if args.mvtec is not None:
        category_root = args.mvtec / args.category if args.category else args.mvtec
        return mvtec_split(category_root), None, f"MVTec AD {category_root.name}"
    if args.masks is not None:
        return mask_folder_split(args.masks, args.class_name, args.images), None, f"masks {args.masks}"
    if args.label_map is None:
        raise ValueError("--labelme needs --label-map")
    label_map = json.loads(args.label_map.read_text())
    impurities = [c for c in args.impurities.split(",") if c]
    defects = ([c for c in args.defects.split(",") if c] if args.defects
               else sorted(set(label_map.values()) - set(impurities)))
    return labelme_split(args.labelme, label_map, defects, impurities), None, f"LabelMe {args.labelme}"


def _map_path(maps_dir: Path, item: AnnotatedImage) -> Path:
    return maps_dir / f"{item.name}.npy"


def _has_any_map(maps_dir: Path, split: AnnotatedSplit) -> bool:
    return any(_map_path(maps_dir, item).is_file() for item in split.items)


def _load_map(maps_dir: Path, item: AnnotatedImage) -> np.ndarray:
    path = _map_path(maps_dir, item)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"cannot read anomaly map {path}: {exc}") from exc


def _evaluate(maps_dir: Path, split: AnnotatedSplit, n_bins: int, threshold: float | None = None,
              min_area: int = 0, desc: str = "evaluate") -> Evaluator:
    missing = [item.name for item in split.items if not _map_path(maps_dir, item).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(split.items)} maps missing under {maps_dir}, "
                                f"e.g. {', '.join(missing[:3])}")
    evaluator = Evaluator(split.defect_classes, split.impurity_classes, n_bins=n_bins,
                          threshold=threshold, min_area=min_area)
    for item in tqdm(split.items, desc=desc, unit="img"):
        evaluator.add(_load_map(maps_dir, item), item.ground_truth(), name=item.name)
    return evaluator


def _pick_overlays(evaluator: Evaluator, split: AnnotatedSplit, count: int) -> list[AnnotatedImage]:
    """Highest-scoring anomalous images, lowest-scoring anomalous ones and highest-scoring nominal ones."""
    if count <= 0:
        return []
    by_name = {item.name: item for item in split.items if item.image_path is not None}
    scored = [(s, n, lab) for n, s, lab in zip(evaluator.image_names, evaluator.image_scores,
                                               evaluator.image_labels) if n in by_name]
    anomalous = sorted((x for x in scored if x[2]), reverse=True)
    nominal = sorted((x for x in scored if not x[2]), reverse=True)
    queues = [anomalous, nominal, anomalous[::-1]]
    picked: list[str] = []
    while len(picked) < min(count, len(scored)):
        for queue in queues:
            while queue and queue[0][1] in picked:
                queue.pop(0)
            if queue and len(picked) < count:
                picked.append(queue.pop(0)[1])
    return [by_name[name] for name in picked]


def _overlay_sample(maps_dir: Path, item: AnnotatedImage):
    """(name, RGB image, map, ground truth) of one overlay figure; None when the image is unreadable."""
    try:
        image = read_image(item.image_path, "rgb")
    except ImageReadError:
        return None
    return item.name, image, _load_map(maps_dir, item), item.ground_truth()
