"""C++ seqcore_inspect against Python ``predict`` on the same images (issue 15): images/s and peak RSS.

Two exported models, each fitted here: magnetic-tile at 256×256 input (images resized to
256×256, native sizing) and KolektorSDD images resized to 2448×2050 at native resolution, tiled
(1024 px tiles, 128 px overlap). Every measurement is its own child process (the tool, or a Python
process that loads the model file and calls ``predict`` on ``read_image`` pixels), at 1 thread and
at every CPU (torch, OpenCV, OpenMP and seqcore threads capped alike), measured with ``os.wait4``
(peak RSS). Images/s counts the inspect / predict calls only (decoding excluded), after one
warm-up image. Targets: C++ ≥ 1.5× Python's images/s at equal threads, ≤ 0.5× its peak RSS.

    flock -w 3600 /work/notes/bench.lock nice -n 5 python benchmarks/bench_inspect.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "benchmarks"))
RESULTS = REPO / "benchmarks" / "results" / "inspect_cpu.json"
LARGE = (2050, 2448)  # (height, width)


def _thread_env(threads: int) -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "SEQCORE_NUM_THREADS",
             "OPENCV_FOR_THREADS_NUM")
    return {**os.environ, "PYTHONPATH": str(REPO / "python"), "OMP_WAIT_POLICY": "PASSIVE"} | {
        n: str(threads) for n in names}


# A small process that forks the measured one and reports its rusage: a child forked straight from
# this (large) Python process would inherit its RSS high-water mark into ru_maxrss across exec.
LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _child(command: list[str], env: dict[str, str], tmp: Path) -> dict:
    """Run one measurement process; its wall time and peak RSS (ru_maxrss from os.wait4 in LAUNCHER)."""
    rss = tmp / "maxrss.txt"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(rss), *command], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"wall_s": round(time.perf_counter() - start, 2), "peak_rss_mb": round(int(rss.read_text()) / 1024, 1)}


def python_child(model_path: str, paths: list[str], threads: int, out: str) -> None:
    """In the child: load the model, predict every image, write per-image seconds and scores."""
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    from seqcore import SequentialPatchCore
    from seqcore.data.images import read_image

    model = SequentialPatchCore.load(model_path)
    seconds, scores = [], []
    for path in paths:
        image = read_image(path)
        started = time.perf_counter()
        result = model.predict(image)
        seconds.append(time.perf_counter() - started)
        scores.append(float(result.score))
    Path(out).write_text(json.dumps({"seconds": seconds, "scores": scores}))


def _measure_python(model_path: Path, paths: list[Path], threads: int, tmp: Path) -> dict:
    out = tmp / "python.json"
    command = [sys.executable, __file__, "--python-child", str(model_path), str(threads), str(out), *map(str, paths)]
    stats = _child(command, _thread_env(threads), tmp)
    found = json.loads(out.read_text())
    return stats | found


def _measure_cpp(tool: Path, export_dir: Path, paths: list[Path], threads: int, tmp: Path) -> dict:
    out = tmp / "cpp.json"
    command = [str(tool), str(export_dir), *map(str, paths), "--json", str(out), "--threads", str(threads)]
    stats = _child(command, _thread_env(threads), tmp)
    found = json.loads(out.read_text())
    images = found["images"]
    return stats | {"seconds": [i["seconds"] for i in images], "scores": [i["image_score"] for i in images],
                    "opencv_version": found["opencv_version"]}


def _summary(run: dict) -> dict:
    timed = run["seconds"][1:]  # the first image is the warm-up
    return {"images_per_s": round(len(timed) / sum(timed), 3), "peak_rss_mb": run["peak_rss_mb"],
            "wall_s": run["wall_s"], "timed_images": len(timed)} | (
        {"opencv_version": run["opencv_version"]} if "opencv_version" in run else {})


def _images(kind: str, folder: str, split: str, count: int, shape: tuple[int, int]) -> list:
    import cv2

    from seqcore.data import open_dataset
    from seqcore.data.data_root import data_root

    data = open_dataset(kind, data_root(folder), split)
    out = []
    for i in range(min(count, len(data))):
        image = data[i].image
        out.append(cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if image.shape[0] > shape[0]
                              else cv2.INTER_LINEAR))
    return out


def _prepare(name: str, features, train: list, test: list, tmp: Path) -> tuple[Path, Path, list[Path]]:
    """Fit, save and export one model; write the test images as PNG (lossless)."""
    import cv2
    import numpy as np

    from seqcore import SequentialPatchCore

    model = SequentialPatchCore(features)
    model.fit(train, epochs=1, progress=False)
    maps = [model.predict(image).anomaly_map for image in test[:1]]
    model.threshold = float(np.quantile(np.concatenate([m.ravel() for m in maps]), 0.999))
    model_path = tmp / f"{name}.safetensors"
    model.save(model_path)
    export_dir = model.export(tmp / f"{name}_export")
    paths = []
    for i, image in enumerate(test):
        paths.append(tmp / f"{name}_{i}.png")
        cv2.imwrite(str(paths[-1]), image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return model_path, export_dir, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-256", type=int, default=24, help="timed 256×256 images (plus one warm-up)")
    parser.add_argument("--images-large", type=int, default=3, help="timed 2448×2050 images (plus one warm-up)")
    parser.add_argument("--train-256", type=int, default=16, help="magnetic-tile training images")
    parser.add_argument("--train-large", type=int, default=2, help="KolektorSDD training images at 2448×2050")
    parser.add_argument("--case", action="append", choices=["256x256", "2448x2050_tiled"], help="default: both")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--python-child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_child:
        model_path, threads, out, *paths = args.python_child
        python_child(model_path, paths, int(threads), out)
        return

    from run_record import machine_stamp, write_record
    from seqcore import FeatureConfig

    tool = next((p for p in [os.environ.get("SEQCORE_INSPECT"), REPO / "build/cpp/cpp/seqcore_inspect",
                             REPO / "build/dev/cpp/seqcore_inspect"] if p and Path(p).is_file()), None)
    if tool is None:
        raise SystemExit("seqcore_inspect is not built (cmake with OpenCV's C++ package; scripts/dev_build.sh)")
    threads = sorted({1, os.cpu_count() or 1})
    setups = {
        "256x256": ("magnetic-tile", "magnetic_tile", FeatureConfig(resize_short_side=None, tile_size=None),
                    (256, 256), args.train_256, args.images_256),
        "2448x2050_tiled": ("mvtec", "kolektorsdd", FeatureConfig(resize_short_side=None), LARGE, args.train_large,
                            args.images_large),
    }
    results = machine_stamp() | {
        "what": "images/s (inspect/predict calls after one warm-up image) and peak RSS per process; "
                "C++ = seqcore_inspect (OpenCV DNN), Python = SequentialPatchCore.predict, same PNG files",
        "targets": {"cpp_over_python_images_per_s": ">= 1.5", "cpp_over_python_peak_rss": "<= 0.5"},
        "tool": str(Path(tool).relative_to(REPO)) if Path(tool).is_relative_to(REPO) else str(tool),
        "threads": threads, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name, (kind, folder, features, shape, n_train, n_test) in setups.items():
            if args.case and name not in args.case:
                continue
            started = time.perf_counter()
            train = _images(kind, folder, "train", n_train, shape)
            test = _images(kind, folder, "test", n_test + 1, shape)
            model_path, export_dir, paths = _prepare(name, features, train, test, tmp)
            case = {"train_images": len(train), "timed_images": len(paths) - 1, "image_shape_hw": list(shape),
                    "features": {"resize_short_side": features.resize_short_side, "tile_size": features.tile_size,
                                 "tile_overlap": features.tile_overlap},
                    "fit_export_s": round(time.perf_counter() - started, 1), "by_threads": {}}
            for n in threads:
                py = _measure_python(model_path, paths, n, tmp)
                cpp = _measure_cpp(Path(tool), export_dir, paths, n, tmp)
                diff = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(cpp["scores"], py["scores"], strict=True))
                row = {"python": _summary(py), "cpp": _summary(cpp), "max_score_rel_diff": diff}
                cpp_s, py_s = row["cpp"], row["python"]
                row["cpp_over_python_images_per_s"] = round(cpp_s["images_per_s"] / py_s["images_per_s"], 2)
                row["cpp_over_python_peak_rss"] = round(cpp_s["peak_rss_mb"] / py_s["peak_rss_mb"], 3)
                case["by_threads"][str(n)] = row
                print(name, f"{n} thread(s)", json.dumps(row), flush=True)
            results["cases"][name] = case
    write_record(results, args.out)


if __name__ == "__main__":
    main()
