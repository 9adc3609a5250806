"""Peak memory of ``fit`` for growing training sets: sequential coreset vs greedy baseline (issue 4).

Every configuration runs in a fresh subprocess; its peak resident set size (VmHWM) is read
from /proc. Real data: magnetic-tile train at 50/200/652 images (short side resized to 256);
synthetic: 2048×2448 procedural surfaces at 5/20/50 images (full resolution, tiled);
``--sets highres``: 4000×4700 surfaces (fit, then predict one image).
Expected: sequential flat (largest ≤ 1.1× smallest), greedy growing with the data.

    nice python benchmarks/bench_memory.py                     # everything (long)
    python benchmarks/bench_memory.py --sets magnetic --sizes-magnetic 10 20 --out m.json
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))


def vm_hwm_mb() -> float:
    """Peak resident set size of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM not available")


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not available")


class SyntheticSurfaces:
    """``count`` procedural 2048×2448 grey surfaces (smooth texture + noise), generated on access."""

    def __init__(self, count: int, shape: tuple[int, int] = (2048, 2448)) -> None:
        self.count, self.shape = count, shape

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.count:
            raise IndexError(index)
        rng = np.random.default_rng(index)
        h, w = self.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        fx, fy, phase = rng.uniform(0.02, 0.06), rng.uniform(0.02, 0.06), rng.uniform(0, 6.28)
        base = 120 + 25 * np.sin(xx * fx + phase) * np.cos(yy * fy) + rng.normal(0, 6, (h, w)).astype(np.float32)
        return np.clip(base, 0, 255).astype(np.uint8)


def child(args: argparse.Namespace) -> None:
    """Fit one configuration and print a JSON line with its memory figures."""
    from seqcore.data import MagneticTileDataset
    from seqcore.data.data_root import data_root
    from seqcore.features import FeatureConfig
    from seqcore.models.patchcore import SequentialPatchCore, strategy_named

    strategy = strategy_named(args.method)
    native = FeatureConfig(resize_short_side=None)  # high-resolution sets at full size, in 1024-px tiles
    if args.set == "magnetic":
        train = MagneticTileDataset(data_root("magnetic_tile"), "train")
        data = _Subset(train, args.n)
        model = SequentialPatchCore(FeatureConfig(resize_short_side=256), capacity=args.capacity, strategy=strategy)
    elif args.set == "synthetic":
        data = SyntheticSurfaces(args.n)
        model = SequentialPatchCore(native, capacity=args.capacity, strategy=strategy)
    else:
        data = SyntheticSurfaces(args.n, shape=(4000, 4700))
        model = SequentialPatchCore(native, capacity=args.capacity, strategy=strategy)
    _ = model.extractor  # load the backbone before measuring the baseline
    before = vm_rss_mb()
    start = time.perf_counter()
    report = model.fit(data, epochs=args.epochs, progress=False)
    fit_peak = vm_hwm_mb()
    if args.set == "highres":  # a line-scan board: predict must stay bounded too
        model.predict(data[0])
    print(json.dumps({
        "set": args.set, "n": args.n, "method": args.method, "capacity": args.capacity,
        "peak_rss_mb": vm_hwm_mb(), "fit_peak_rss_mb": fit_peak, "rss_before_fit_mb": before,
        "seconds": time.perf_counter() - start,
        "patches": sum(report.patches), "epochs": report.epochs, "replacements": report.replacements,
    }))


class _Subset:
    """The first ``n`` images of a dataset, decoded on access."""

    def __init__(self, dataset, n: int) -> None:
        self.dataset, self.n = dataset, min(n, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for index in range(self.n):
            yield self.dataset[index].image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", choices=("magnetic", "synthetic", "highres"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=("sequential", "greedy"), help=argparse.SUPPRESS)
    parser.add_argument("--sets", nargs="+", default=["magnetic", "synthetic"])
    parser.add_argument("--methods", nargs="+", default=["sequential", "greedy"])
    parser.add_argument("--sizes-magnetic", nargs="+", type=int, default=[50, 200, 652])
    parser.add_argument("--sizes-synthetic", nargs="+", type=int, default=[5, 20, 50])
    parser.add_argument("--sizes-highres", nargs="+", type=int, default=[1, 3])
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per fit (memory does not depend on it)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "memory_fit.json")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs = []
    for set_name in args.sets:
        sizes = {"magnetic": args.sizes_magnetic, "synthetic": args.sizes_synthetic,
                 "highres": args.sizes_highres}[set_name]
        for method in args.methods:
            for n in sizes:
                cmd = [sys.executable, __file__, "--child", "--set", set_name, "--n", str(n), "--method", method,
                       "--capacity", str(args.capacity), "--epochs", str(args.epochs)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
                run = json.loads(done.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(f"{set_name:9s} {method:10s} n={n:4d}: peak {run['peak_rss_mb']:8.1f} MiB "
                      f"(before fit {run['rss_before_fit_mb']:.1f}), {run['seconds']:.1f} s", flush=True)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps({"runs": runs, "summary": summarize(runs)}, indent=1))
    print(json.dumps(summarize(runs), indent=1))


def summarize(runs: list[dict]) -> dict:
    """Largest/smallest peak ratio per (set, method); sequential passes when ≤ 1.1."""
    out = {}
    for key in sorted({(r["set"], r["method"]) for r in runs}):
        peaks = [r["peak_rss_mb"] for r in runs if (r["set"], r["method"]) == key]
        ratio = max(peaks) / min(peaks)
        out[f"{key[0]}/{key[1]}"] = {"peaks_mb": peaks, "largest_over_smallest": ratio,
                                     **({"flat_within_1.1": ratio <= 1.1} if key[1] == "sequential" else {})}
    return out


if __name__ == "__main__":
    main()
