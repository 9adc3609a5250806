"""Benchmark: streaming evaluation of 100 anomaly maps of 2448×2050 (≈ 500 M pixels).

Maps and ground truth are generated on the fly (never all held), so the peak RSS measures
the Evaluator's own footprint. Generation time is measured apart from evaluation time.
Baseline in the same process: the naive exact pixel AUROC (concatenate the scores,
scikit-learn) on the first few maps, for the per-map time ratio and the AUROC agreement;
it runs after the peak RSS of the streaming pass has been recorded.

    nice python benchmarks/bench_metrics.py            # writes benchmarks/results/metrics_cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from seqcore.metrics import Evaluator, GroundTruth  # noqa: E402

CLASS_IDS = {"scratch": 1, "dent": 2, "water_stain": 3}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class MapFactory:
    """Deterministic synthetic (map, ground truth) pairs: shifted smooth noise plus defect bumps."""

    def __init__(self, height: int, width: int, seed: int = 0):
        self.height, self.width = height, width
        self.rng = np.random.default_rng(seed)
        coarse = self.rng.normal(size=(height // 16 + 1, width // 16 + 1)).astype(np.float32)
        self.base = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * 0.3

    def make(self, index: int) -> tuple[np.ndarray, GroundTruth]:
        rng = self.rng
        h, w = self.height, self.width
        score = np.roll(self.base, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
        class_mask = np.zeros((h, w), np.uint8)
        if index % 4:  # three of four images are defective
            for _ in range(int(rng.integers(1, 4))):
                y, x = int(rng.integers(0, h - 60)), int(rng.integers(0, w - 400))
                class_mask[y : y + int(rng.integers(3, 8)), x : x + int(rng.integers(60, 400))] = CLASS_IDS["scratch"]
            for _ in range(int(rng.integers(0, 3))):
                center = (int(rng.integers(50, w - 50)), int(rng.integers(50, h - 50)))
                cv2.circle(class_mask, center, int(rng.integers(5, 30)), CLASS_IDS["dent"], -1)
        stain = np.zeros((h, w), np.uint8)
        cv2.circle(stain, (int(rng.integers(200, w - 200)), int(rng.integers(200, h - 200))),
                   int(rng.integers(40, 150)), 1, -1)
        class_mask[(stain > 0) & (class_mask == 0)] = CLASS_IDS["water_stain"]
        defect = (class_mask == 1) | (class_mask == 2)
        ys, xs = np.nonzero(defect | (stain > 0))
        score[ys, xs] += np.where(defect[ys, xs], 0.9, 0.35) + rng.normal(scale=0.3, size=len(ys)).astype(np.float32)
        roi = None
        if index % 2:
            roi = np.ones((h, w), bool)
            roi[:, :64] = False
        names = {cid: name for name, cid in CLASS_IDS.items()}
        return score, GroundTruth(class_mask, names, roi=roi)


def streaming_pass(factory: MapFactory, n_maps: int, evaluator: Evaluator,
                   keep: int = 0) -> tuple[float, float, dict]:
    """(generation seconds, evaluation seconds, the first ``keep`` (map, ground truth) pairs by index)
    for n_maps maps added to ``evaluator``."""
    t_gen = t_eval = 0.0
    kept = {}
    for i in tqdm(range(n_maps), desc="maps", unit="map"):
        t0 = time.perf_counter()
        score, gt = factory.make(i)
        t1 = time.perf_counter()
        evaluator.add(score, gt, name=f"map{i}")
        t_eval += time.perf_counter() - t1
        t_gen += t1 - t0
        if i < keep:
            kept[i] = (score, gt)
        del score, gt
    return t_gen, t_eval, kept


def naive_baseline(height: int, width: int, n_maps: int) -> dict:
    """Exact pixel AUROC by concatenation + scikit-learn vs the Evaluator, on the same few maps."""
    from sklearn.metrics import roc_auc_score

    factory = MapFactory(height, width, seed=1)
    pairs = [factory.make(i) for i in range(n_maps)]
    t0 = time.perf_counter()
    labels = np.concatenate([np.isin(gt.class_mask, (1, 2))[gt.roi] if gt.roi is not None
                             else np.isin(gt.class_mask, (1, 2)).ravel() for _, gt in pairs])
    scores = np.concatenate([s[gt.roi] if gt.roi is not None else s.ravel() for s, gt in pairs])
    exact = float(roc_auc_score(labels, scores))
    t_naive = time.perf_counter() - t0
    evaluator = Evaluator(["scratch", "dent"], ["water_stain"])
    t0 = time.perf_counter()
    for s, gt in pairs:
        evaluator.add(s, gt)
    streaming = evaluator.compute(evaluator.best_threshold()).pixel_auroc
    t_stream = time.perf_counter() - t0
    return {
        "maps": n_maps,
        "naive_seconds_per_map": t_naive / n_maps,
        "streaming_seconds_per_map": t_stream / n_maps,
        "naive_over_streaming_time": t_naive / t_stream,
        "naive_bytes_per_pixel_held": 5,
        "pixel_auroc_exact": exact,
        "pixel_auroc_streaming": streaming,
        "pixel_auroc_abs_difference": abs(exact - streaming),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=100)
    parser.add_argument("--height", type=int, default=2050)
    parser.add_argument("--width", type=int, default=2448)
    parser.add_argument("--filtered-maps", type=int, default=20, help="maps for the min-area filtered pass")
    parser.add_argument("--baseline-maps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metrics_cpu.json")
    args = parser.parse_args()

    factory = MapFactory(args.height, args.width)
    rss_start = peak_rss_mb()
    evaluator = Evaluator(["scratch", "dent"], ["water_stain"])
    t_gen, t_add, _ = streaming_pass(factory, args.maps, evaluator)
    t0 = time.perf_counter()
    threshold = evaluator.best_threshold()
    result = evaluator.compute(threshold)
    t_compute = time.perf_counter() - t0

    filtered = Evaluator(["scratch", "dent"], ["water_stain"], threshold=threshold, min_area=50)
    _, t_filtered, _ = streaming_pass(MapFactory(args.height, args.width, seed=2), args.filtered_maps, filtered)
    filtered.compute(threshold, min_area=50)
    rss_streaming = peak_rss_mb()

    baseline = naive_baseline(args.height, args.width, args.baseline_maps)
    report = {
        "benchmark": "streaming Evaluator, synthetic maps generated on the fly",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "numpy": np.__version__},
        "maps": args.maps,
        "map_shape": [args.height, args.width],
        "pixels": args.maps * args.height * args.width,
        "evaluate_seconds": t_add + t_compute,
        "add_seconds": t_add,
        "compute_seconds": t_compute,
        "generation_seconds": t_gen,
        "seconds_per_map": (t_add + t_compute) / args.maps,
        "megapixels_per_second": args.maps * args.height * args.width / 1e6 / (t_add + t_compute),
        "peak_rss_mb": rss_streaming,
        "rss_before_mb": rss_start,
        "filtered_min_area_seconds_per_map": t_filtered / args.filtered_maps,
        "n_bins": evaluator.n_bins,
        "threshold": threshold,
        "threshold_resolution": result.threshold_resolution,
        "metrics": {k: result.to_dict()[k] for k in ("precision", "recall", "f1", "mR_DW", "image_auroc",
                                                     "pixel_auroc", "aupro")},
        "instances": result.instances,
        "targets": {"evaluate_seconds": 60, "peak_rss_mb": 2048},
        "baseline_naive_exact": baseline,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("evaluate_seconds", "generation_seconds", "peak_rss_mb",
                                             "seconds_per_map")}, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
