"""Benchmark: evaluation of 100 synthetic maps of 2448×2050 with the HTML export (issue 21).

Targets: evaluation plus report (metrics.json, report.md, plots, report.html with a 24-image
gallery) under 30 s, report.html under 20 MB. Maps come from bench_metrics' MapFactory
(scratches, dents, water stains; generated on the fly, generation time measured apart).

    flock -w 3600 /work/notes/bench.lock nice -n 5 python benchmarks/bench_report.py
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from bench_metrics import MapFactory, streaming_pass  # noqa: E402
from run_record import machine_stamp, write_record  # noqa: E402
from seqcore.metrics import Evaluator  # noqa: E402
from seqcore.report.html import gallery_item, write_html  # noqa: E402
from seqcore.report.writer import write_report  # noqa: E402

GALLERY = 24


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=100)
    parser.add_argument("--height", type=int, default=2050)
    parser.add_argument("--width", type=int, default=2448)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "report_cpu.json")
    args = parser.parse_args()
    record = {"benchmark": "evaluate + HTML report, synthetic maps", **machine_stamp(),
              "maps": args.maps, "map_shape": [args.height, args.width], "gallery_images": GALLERY}
    factory = MapFactory(args.height, args.width)
    evaluator = Evaluator(["scratch", "dent"], ["water_stain"])
    # the gallery needs images: the first maps stand in for them
    t_gen, t_eval, kept = streaming_pass(factory, args.maps, evaluator, keep=GALLERY)
    t0 = time.perf_counter()
    threshold = evaluator.best_threshold()
    result = evaluator.compute(threshold)
    t_compute = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_report(result, tmp)
        t_md = time.perf_counter() - t0
        t0 = time.perf_counter()
        gallery = []
        for i, (score, gt) in kept.items():
            image = np.clip(score * 80 + 60, 0, 255).astype(np.uint8)
            gallery.append(gallery_item(f"map{i}", image, score, gt, result, evaluator.image_labels[i],
                                        evaluator.image_scores[i]))
        plots = {p.stem: p for p in (Path(tmp) / "plots").glob("*.png")}
        page = write_html(Path(tmp) / "report.html", evaluator, result, plots, gallery, pixel_size_mm=0.1)
        t_html = time.perf_counter() - t0
        size_mb = page.stat().st_size / 1e6
    _, sizes, _ = evaluator.instance_arrays()
    total = t_eval + t_compute + t_md + t_html
    record |= {
        "annotated_pixels_exported": int(sizes.sum()),
        "generation_seconds": t_gen, "add_seconds": t_eval, "compute_seconds": t_compute,
        "markdown_and_plots_seconds": t_md, "html_seconds": t_html, "total_seconds": total,
        "target_total_seconds": 30.0, "page_mb": size_mb, "target_page_mb": 20.0,
        "meets_targets": bool(total < 30.0 and size_mb < 20.0),
    }
    print(f"total {total:.1f} s (add {t_eval:.1f}, html {t_html:.1f}), page {size_mb:.1f} MB")
    write_record(record, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
