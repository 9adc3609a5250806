"""Benchmark of the synthetic generator on a full 2448×2050 frame.

1. Water stains (docs/design.md §6): the Numba kernel against the plain NumPy version of the same
   algorithm, in the same run, after JIT warm-up (target: >= 5x).
2. A full surface render (texture, 3 defects, fingerprint, sticker, water stains, ring-light
   shading, camera) (target: < 3 s on the 2-core development CPU).

Usage: PYTHONPATH=python python benchmarks/bench_synth.py [--repeat N] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

from seqcore.synth.surface import SurfaceGenerator
from seqcore.synth.water_stains import WaterStainParams, stain_field, water_stains

HEIGHT, WIDTH = 2050, 2448


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` timed calls (seconds): the least disturbed by other processes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "synth_cpu.json"))
    args = parser.parse_args()

    params = WaterStainParams(pixel_pitch_mm=0.05, seed=1)
    image = np.full((HEIGHT, WIDTH, 3), 150, dtype=np.uint8)
    water_stains(image[:64, :64], params)  # JIT warm-up (or cache load)
    numba_field = best_of(lambda: stain_field((HEIGHT, WIDTH), params, backend="numba"), args.repeat)
    numpy_field = best_of(lambda: stain_field((HEIGHT, WIDTH), params, backend="numpy"), args.repeat)
    numba_full = best_of(lambda: water_stains(image, params, backend="numba"), args.repeat)
    numpy_full = best_of(lambda: water_stains(image, params, backend="numpy"), args.repeat)
    _, ids = stain_field((HEIGHT, WIDTH), params)

    gen = SurfaceGenerator(HEIGHT, WIDTH, pixel_pitch_mm=0.05)
    scene = gen.sample_scene(7, defects=("scratch", "dent", "bump"), fingerprints=1, stickers=1)
    gen.render(scene)  # JIT warm-up
    render = best_of(lambda: gen.render(scene), args.repeat)

    result = {
        "image": f"{WIDTH}x{HEIGHT}",
        "water_stains": {
            "stains": int(ids.max()),
            "stained_fraction": round(float((ids > 0).mean()), 4),
            "field_numba_s": round(numba_field, 4),
            "field_numpy_s": round(numpy_field, 4),
            "field_speedup": round(numpy_field / numba_field, 2),
            "rgb_image_numba_s": round(numba_full, 4),
            "rgb_image_numpy_s": round(numpy_full, 4),
            "rgb_image_speedup": round(numpy_full / numba_full, 2),
        },
        "surface_render_s": round(render, 3),
        "machine": {
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numba": numba.__version__,
            "numpy": np.__version__,
        },
        "repeat": args.repeat,
        "timing": "best of repeat, after JIT warm-up",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
