"""``seqcore pod``: probability of detection against defect size at a model's operating point (docs/design.md §14).

Defects of given sizes (metrics.pod: dots, scratches, dents, scars) are pasted into the good images of
a split and scored with the model; the threshold is the model's, a given one, or the one a threshold
rule picks on the same split. Writes pod.json and pod.png.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seqcore.commands._options import add_dataset_arguments, dataset_source, open_from_args
from seqcore.metrics.pod import KINDS

NAME = "pod"
HELP = "probability of detection vs defect size: paste synthetic defects into good images, write pod.json + pod.png"
DEFAULT_SIZES = (2, 4, 8, 16, 32, 64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file written by `seqcore train`")
    parser.add_argument("--out", type=Path, required=True, help="output folder (pod.json, pod.png)")
    add_dataset_arguments(parser, "val")
    parser.add_argument("--threshold-rule",
                        help="set the threshold on --split by this rule (f1, recall-at-false-calls:R, impurity-cap:C, "
                             "nominal-quantile:Q[:image]); default: the model's own threshold")
    parser.add_argument("--threshold", type=float, help="fixed threshold instead of the model's")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated defect kinds ({', '.join(KINDS)})")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated defect sizes in px (dot/dent diameter, scratch/scar length)")
    parser.add_argument("--trials", type=int, default=30, help="pasted defects per kind and size (default 30)")
    parser.add_argument("--good-images", type=int, help="use at most this many good images (evenly spaced)")
    parser.add_argument("--contrast", type=float, default=60.0, help="grey-level contrast of the pasted defects")
    parser.add_argument("--pixel-size", type=float,
                        help="mm per pixel (default: the model's, if it stores one): sizes also in mm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] for the backbone")


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"--{what} needs at least one size >= 1 px, got {text!r}")
    return sorted(set(values))


def _is_good(sample, defect_classes) -> bool:
    """True when the sample has no annotation or no pixel of a defect class."""
    gt = sample.gt
    if gt is None:
        return True
    ids = [cid for cid, name in gt.class_names.items() if name in defect_classes]
    return not np.isin(gt.class_mask, ids).any()


def _threshold(args: argparse.Namespace, model, data) -> tuple[float, str, dict[str, np.ndarray]]:
    """(threshold, where it came from, clean maps of the good images seen on the way)."""
    maps: dict[str, np.ndarray] = {}
    if args.threshold is not None:
        return float(args.threshold), "given on the command line", maps
    if args.threshold_rule is None:
        if model.threshold is None:
            raise ValueError("the model has no threshold: pass --threshold or --threshold-rule")
        return float(model.threshold), f"the model's ({getattr(model, 'threshold_rule', 'f1')})", maps
    from seqcore.metrics.evaluator import Evaluator
    from seqcore.metrics.operating import ThresholdRule, choose_threshold

    rule = ThresholdRule.parse(args.threshold_rule)
    evaluator = Evaluator(data.defect_classes, data.impurity_classes)
    for sample in tqdm(data, total=len(data), desc=f"threshold ({rule})", unit="img"):
        if sample.gt is None:
            raise ValueError(f"--threshold-rule needs annotated images; {sample.name} has no ground truth")
        prediction = model.predict(sample)
        evaluator.add(prediction.anomaly_map, sample.gt, prediction.score, name=sample.name)
        if _is_good(sample, data.defect_classes):
            maps[sample.name] = prediction.anomaly_map
    return choose_threshold(evaluator, rule).threshold, f"rule {rule} on split '{args.split}'", maps


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads
    from seqcore.metrics.pod import pod_curve
    from seqcore.models import load_method
    from seqcore.report.plots import plot_pod

    kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown defect kind(s) {unknown}: use {', '.join(KINDS)}")
    sizes = _int_list(args.sizes, "sizes")
    if args.trials < 1:
        raise ValueError(f"--trials must be >= 1, got {args.trials}")
    model = load_method(args.model, device=args.device)
    pixel_size = args.pixel_size if args.pixel_size is not None else getattr(model, "pixel_size_mm", None)
    if pixel_size is not None and not pixel_size > 0:
        raise ValueError(f"--pixel-size must be a positive number of mm per pixel, got {pixel_size}")
    data = open_from_args(args, *dataset_source(args))
    threshold, source, maps = _threshold(args, model, data)
    goods = [s for s in data if _is_good(s, data.defect_classes)]
    if not goods:
        raise ValueError(f"split '{args.split}' has no good images to paste defects into")
    in_split = len(goods)
    if args.good_images is not None and args.good_images < len(goods):
        if args.good_images < 1:
            raise ValueError(f"--good-images must be >= 1, got {args.good_images}")
        goods = [goods[i] for i in np.linspace(0, len(goods) - 1, args.good_images).round().astype(int)]
    too_small = min(min(s.image.shape[:2]) for s in goods)
    if 2 * max(sizes) + 4 >= too_small:
        raise ValueError(f"size {max(sizes)} px does not fit the smallest good image ({too_small} px): lower --sizes")
    clean = [maps[s.name] if s.name in maps else model.predict(s).anomaly_map for s in goods]
    rois = [None if s.gt is None else s.gt.roi for s in goods]
    images = [s.image for s in goods]
    curves = []
    for number, kind in enumerate(kinds):
        bar = tqdm(total=len(sizes) * args.trials, desc=f"pod {kind}", unit="defect")

        def score_map(image: np.ndarray, roi: np.ndarray | None, _bar=bar) -> np.ndarray:
            _bar.update()
            return model.predict(image, roi).anomaly_map

        curves.append(pod_curve(score_map, images, kind, sizes, threshold, trials=args.trials,
                                seed=args.seed + number, clean_maps=clean, rois=rois, contrast=args.contrast))
        bar.close()
    summary = {
        "model": Path(args.model).name, "dataset": data.description, "split": args.split,
        "threshold": threshold, "threshold_source": source, "good_images": len(goods),
        "good_images_in_split": in_split,
        "trials": args.trials, "contrast": args.contrast, "seed": args.seed, "pixel_size_mm": pixel_size,
        "curves": [_with_mm(c, pixel_size) for c in curves],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pod.json").write_text(json.dumps(summary, indent=1))
    plot_pod(curves, args.out / "pod.png",
             title=f"POD at threshold {threshold:.4g} ({source}), {len(goods)} good image(s), {args.trials} trials")
    for c in curves:
        print(f"{c['kind']:8s} POD " + " ".join(f"{s}px:{100 * p:.0f}%" for s, p in zip(c["size_px"], c["pod"],
                                                                                      strict=True))
              + f"  a90 {c['a90_px']} px, a90/95 {c['a90_95_px']} px")
    print(f"wrote {args.out / 'pod.json'} and {args.out / 'pod.png'}")
    return 0


def _with_mm(curve: dict, pixel_size: float | None) -> dict:
    if pixel_size is None:
        return curve
    mm = {"size_mm": [s * pixel_size for s in curve["size_px"]]}
    mm |= {f"{k[:-3]}_mm": None if curve[k] is None else curve[k] * pixel_size for k in ("a90_px", "a90_95_px")}
    return curve | mm
