"""`seqcore evaluate`: score a predictions folder (maps/<name>.npy) against a dataset's ground truth."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seqcore.commands._options import add_dataset_arguments, dataset_source, open_from_args
from seqcore.data import SPLIT_KINDS, Dataset, Entry, SplitNotFoundError
from seqcore.data.images import ImageReadError, read_image
from seqcore.metrics.evaluator import Evaluator
from seqcore.metrics.operating import ThresholdRule, choose_threshold
from seqcore.report.writer import write_report

NAME = "evaluate"
HELP = "Compute inspection metrics of predicted anomaly maps and write metrics.json, report.md and plots."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", type=Path, help="folder written by `seqcore predict` (maps/<name>.npy)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder for the report")
    add_dataset_arguments(parser, "test")
    parser.add_argument("--val-split", default="val",
                        help="split whose pixel-F1 maximum sets the threshold (datasets with splits)")
    parser.add_argument("--threshold", type=float,
                        help="fixed threshold (default: pixel-F1 maximum on --val-split, else on the split itself)")
    parser.add_argument("--threshold-rule", default="f1",
                        help="rule setting the threshold on --val-split: f1, recall-at-false-calls:R, "
                             "impurity-cap:C, nominal-quantile:Q[:image]")
    parser.add_argument("--tau-cov", type=float, default=0.0, help="coverage fraction an instance must exceed")
    parser.add_argument("--min-area", type=int, default=0, help="drop predicted components under this many pixels")
    parser.add_argument("--n-bins", type=int, default=1 << 16, help="histogram bins of the pixel statistics")
    parser.add_argument("--overlays", type=int, default=6, help="number of overlay figures")
    parser.add_argument("--title", default=None, help="report title")
    parser.add_argument("--html", action="store_true",
                        help="also write report.html: self-contained page with a threshold slider and a gallery")
    parser.add_argument("--gallery", type=int, default=24, help="images in the HTML gallery")
    parser.add_argument("--pixel-size", type=float,
                        help="pixel size in mm: areas in mm², false calls per m² (default: the model's, "
                             "as `seqcore predict` recorded it in scores.json)")
    parser.add_argument("--min-area-mm2", type=float,
                        help="minimum predicted component area in mm² (needs --pixel-size; replaces --min-area)")


def run(args: argparse.Namespace) -> int:
    maps_dir = args.predictions / "maps"
    if not maps_dir.is_dir():
        raise FileNotFoundError(f"{maps_dir} not found: pass the folder written by `seqcore predict`")
    split, val_split, dataset = _splits(args)
    details = {"predictions": str(args.predictions), "dataset": dataset}
    rule = ThresholdRule.parse(args.threshold_rule)
    chosen_by = "pixel-F1 maximum" if rule.name == "f1" else f"rule {rule}"
    threshold = args.threshold
    if threshold is not None:
        details["threshold source"] = "given on the command line"
    elif val_split is not None and _has_any_map(maps_dir, val_split):
        calibration = _evaluate(maps_dir, val_split, args.n_bins, desc=f"threshold on {args.val_split}")
        threshold = choose_threshold(calibration, rule, args.tau_cov).threshold
        details["threshold source"] = f"{chosen_by} on split '{args.val_split}'"
    else:
        threshold = choose_threshold(_evaluate(maps_dir, split, args.n_bins, desc="threshold"), rule,
                                     args.tau_cov).threshold
        details["threshold source"] = f"{chosen_by} on the evaluated images themselves (optimistic)"
    _physical_units(args, details)
    evaluator = _evaluate(maps_dir, split, args.n_bins, threshold=threshold, min_area=args.min_area, desc="evaluate")
    result = evaluator.compute(threshold, tau_cov=args.tau_cov, min_area=args.min_area)
    samples = [_overlay_sample(maps_dir, item) for item in _pick_overlays(evaluator, split, args.overlays)]
    report = write_report(result, args.out, [s for s in samples if s is not None],
                          title=args.title or f"seqcore evaluation — {dataset}", details=details)
    if args.html:
        html_path = _write_html(args, maps_dir, split, evaluator, result, details, dataset)
        print(f"page: {html_path}")
    print(f"P_PX {_pc(result.precision)}  R_PX {_pc(result.recall)}  F1_PX {_pc(result.f1)}  "
          f"mR_DW {_pc(result.mR_DW)}  threshold {threshold:.6g}")
    print(f"report: {report}")
    return 0


def _physical_units(args: argparse.Namespace, details: dict) -> None:
    """Check --pixel-size (else take the model's from the predictions' scores.json), turn --min-area-mm2
    into --min-area pixels and note both in the details."""
    if args.pixel_size is None:
        args.pixel_size = _recorded_pixel_size(args.predictions)
    if args.pixel_size is not None and not args.pixel_size > 0:
        raise ValueError(f"--pixel-size must be a positive number of mm per pixel, got {args.pixel_size}")
    if args.min_area_mm2 is not None:
        if args.pixel_size is None or not args.min_area_mm2 >= 0:
            raise ValueError("--min-area-mm2 needs --pixel-size and a non-negative area")
        args.min_area = math.ceil(args.min_area_mm2 / args.pixel_size**2 - 1e-9)
        details["minimum area"] = f"{args.min_area_mm2:g} mm² = {args.min_area} px"
    if args.pixel_size is not None:
        details["pixel size"] = f"{args.pixel_size:g} mm (1 px = {args.pixel_size**2:.4g} mm²)"


def _recorded_pixel_size(predictions: Path) -> float | None:
    """The pixel size `seqcore predict` wrote into scores.json (the model's), None when absent or unreadable."""
    try:
        value = json.loads((predictions / "scores.json").read_text()).get("pixel_size_mm")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _write_html(args: argparse.Namespace, maps_dir: Path, split: Dataset, evaluator: Evaluator, result,
                details: dict, dataset: str) -> Path:
    """report.html next to report.md, with the plots write_report drew and a gallery of overlays."""
    from seqcore.report.html import gallery_item, write_html

    labels = dict(zip(evaluator.image_names, evaluator.image_labels, strict=True))
    scores = dict(zip(evaluator.image_names, evaluator.image_scores, strict=True))
    gallery = []
    for item in tqdm(_pick_overlays(evaluator, split, args.gallery), desc="gallery", unit="img"):
        sample = _overlay_sample(maps_dir, item)
        if sample is not None:
            gallery.append(gallery_item(*sample, result, labels[item.name], scores[item.name]))
    plots = {p.stem: p for p in sorted((args.out / "plots").glob("*.png"))}
    return write_html(args.out / "report.html", evaluator, result, plots, gallery,
                      title=args.title or f"seqcore evaluation — {dataset}", details=details,
                      pixel_size_mm=args.pixel_size)


def _pc(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _splits(args: argparse.Namespace) -> tuple[Dataset, Dataset | None, str]:
    """The split to report on, the threshold split (if the dataset has one) and a dataset label."""
    if args.dataset is None:
        raise ValueError("give the ground truth with --dataset KIND ROOT")
    kind, root = dataset_source(args)
    split = open_from_args(args, kind, root)
    if kind not in SPLIT_KINDS or args.val_split == args.split:
        return split, None, split.description
    try:
        return split, open_from_args(args, kind, root, args.val_split), split.description
    except SplitNotFoundError:
        return split, None, split.description


def _map_path(maps_dir: Path, item: Entry) -> Path:
    return maps_dir / f"{item.name}.npy"


def _has_any_map(maps_dir: Path, split: Dataset) -> bool:
    return any(_map_path(maps_dir, item).is_file() for item in split.entries)


def _load_map(maps_dir: Path, item: Entry) -> np.ndarray:
    path = _map_path(maps_dir, item)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"cannot read anomaly map {path}: {exc}") from exc


def _evaluate(maps_dir: Path, split: Dataset, n_bins: int, threshold: float | None = None,
              min_area: int = 0, desc: str = "evaluate") -> Evaluator:
    missing = [item.name for item in split.entries if not _map_path(maps_dir, item).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(split.entries)} maps missing under {maps_dir}, "
                                f"e.g. {', '.join(missing[:3])}")
    evaluator = Evaluator(split.defect_classes, split.impurity_classes, n_bins=n_bins,
                          threshold=threshold, min_area=min_area)
    for item in tqdm(split.entries, desc=desc, unit="img"):
        evaluator.add(_load_map(maps_dir, item), _ground_truth(item), name=item.name)
    return evaluator


def _ground_truth(entry: Entry):
    """The entry's annotation; an error naming the image when it has none."""
    gt = entry.ground_truth()
    if gt is None:
        where = f" (expected {entry.annotation_path})" if entry.annotation_path else ""
        raise FileNotFoundError(f"no ground truth for {entry.name}{where}")
    return gt


def _pick_overlays(evaluator: Evaluator, split: Dataset, count: int) -> list[Entry]:
    """Highest-scoring anomalous images, lowest-scoring anomalous ones and highest-scoring nominal ones."""
    if count <= 0:
        return []
    by_name = {item.name: item for item in split.entries if item.image_path is not None}
    scored = [(s, n, lab) for n, s, lab in zip(evaluator.image_names, evaluator.image_scores,
                                               evaluator.image_labels, strict=True) if n in by_name]
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


def _overlay_sample(maps_dir: Path, item: Entry):
    """(name, RGB image, map, ground truth) of one overlay figure; None when the image is unreadable."""
    try:
        image = read_image(item.image_path, "rgb")
    except ImageReadError:
        return None
    return item.name, image, _load_map(maps_dir, item), _ground_truth(item)
