"""``seqcore predict``: anomaly maps, heat-map overlays and image scores for a set of images."""
from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

from seqcore.commands._options import add_dataset_arguments, dataset_source, open_from_args

NAME = "predict"
HELP = "write anomaly maps (maps/<name>.npy), overlays (overlays/<name>.png) and scores.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file written by `seqcore train`")
    parser.add_argument("source", nargs="?", metavar="IMAGES",
                        help="an image or a folder of images (or use --dataset KIND ROOT)")
    parser.add_argument("--out", required=True, help="output folder")
    add_dataset_arguments(parser, "test")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] for the backbone")
    parser.add_argument("--no-overlays", action="store_true", help="skip the overlay PNGs")
    parser.add_argument("--pixel-size", type=float, metavar="MM",
                        help="mm per pixel (default: the model's, if it stores one): defect areas in mm² "
                             "in scores.json")


def overlay(image: np.ndarray, amap: np.ndarray, vmax: float, threshold: float | None) -> np.ndarray:
    """Colour heat map blended over the image (scaled to [0, vmax]), threshold contour in white."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    base = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    scaled = np.clip(amap / max(vmax, 1e-12), 0.0, 1.0)
    heat = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    out = cv2.addWeighted(base, 0.55, heat, 0.45, 0.0)
    if threshold is not None:
        contours, _ = cv2.findContours((amap >= threshold).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def _defect_row(defect, pixel_size: float | None) -> dict:
    """One defect of the list as JSON: box and area in px, area in mm² when the pixel size is known."""
    row = {"bbox": list(defect.bbox), "area_px": defect.area, "peak": defect.peak, "mean": defect.mean}
    if pixel_size is not None:
        row["area_mm2"] = defect.area * pixel_size**2
    return row


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads
    import cv2

    from seqcore.models import load_method, predict_many
    from seqcore.models.defects import defect_list

    model = load_method(args.model, device=args.device)
    pixel_size = args.pixel_size if args.pixel_size is not None else getattr(model, "pixel_size_mm", None)
    if pixel_size is not None and not pixel_size > 0:
        raise ValueError(f"--pixel-size must be a positive number of mm per pixel, got {pixel_size}")
    data = open_from_args(args, *dataset_source(args, args.source))
    out = Path(args.out)
    rows, defects = [], {}
    for sample, pred in predict_many(model, data):
        map_path = out / "maps" / f"{sample.name}.npy"
        map_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(map_path, pred.anomaly_map.astype(np.float32))
        if not args.no_overlays:
            vmax = 2.0 * model.threshold if model.threshold else pred.score
            png = out / "overlays" / f"{sample.name}.png"
            png.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(png), overlay(sample.image, pred.anomaly_map, vmax, model.threshold))
        rows.append({"image": sample.name, "score": pred.score,
                     "anomalous": "" if pred.anomalous is None else int(pred.anomalous)})
        if model.threshold is not None:
            roi = None if sample.gt is None else sample.gt.roi
            found = defect_list(pred.anomaly_map, model.threshold, roi)
            defects[sample.name] = [_defect_row(d, pixel_size) for d in found]
    with (out / "scores.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "score", "anomalous"])
        writer.writeheader()
        writer.writerows(rows)
    summary = {"threshold": model.threshold, "pixel_size_mm": pixel_size, "images": rows}
    if model.threshold is not None:
        summary["defects"] = defects
    (out / "scores.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {len(rows)} prediction(s) to {out}" + (f", skipped {len(data.skipped)}" if data.skipped else ""))
    return 0
