"""`seqcore train` on magnetic-tile train, today's path against the fit pipeline of issue 16 (one run).

Every fit is a `seqcore train` subprocess at the default settings, measured with ``os.wait4``
(wall, CPU user/sys, minor faults, peak RSS): today's path (``--cache-gb 0 --stop-fraction 0``:
extract every epoch, stop only after an epoch without replacements) against the defaults (feature
cache, producer thread, early stop); the new path on the first 50 images for the flat-memory
ratio; and a checkpointed run SIGKILLed once at half its time, resumed, compared byte for byte.

    flock -w 3600 /work/notes/bench.lock nice -n 5 python benchmarks/bench_fit.py
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
RUN = "import sys; from seqcore.cli import main; sys.exit(main(sys.argv[1:]))"
ANOMALIB_SECONDS = 697.0  # issue 16: anomalib's PatchCore fit on the same split


def _train(args: list[str], kill_after: float | None = None) -> dict:
    """One `seqcore train` subprocess, its resource use and printed fit line."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "python"), "OMP_WAIT_POLICY": "PASSIVE"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", RUN, "train", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    out = process.stdout.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    fit = re.search(r"^fit: .*$", out, re.M)
    cache = re.search(r"feature cache ([0-9.]+) MiB", out)
    return {"args": args, "returncode": process.returncode, "wall_s": round(wall, 2),
            "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
            "minor_faults": usage.ru_minflt, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cache_mb": float(cache.group(1)) if cache else None, "fit": fit.group(0) if fit else None}


def main() -> None:
    from seqcore.data.data_root import data_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="magnetic-tile root (default: data_root)")
    parser.add_argument("--small", type=int, default=50, help="images of the flat-memory comparison")
    parser.add_argument("--images", type=int, help="use only the first N train images (a quick run; default all)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/bench_fit.json")
    opts = parser.parse_args()
    root = opts.root or data_root("magnetic_tile")
    work = Path(tempfile.mkdtemp(prefix="bench-fit-"))
    rows = [r for r in csv.DictReader((root / "split.csv").open()) if r["split"] == "train"]

    def linked(name: str, count: int) -> list[str]:
        """The first ``count`` train images as a folder of links (a plain folder dataset)."""
        folder = work / name
        folder.mkdir()
        for index, row in enumerate(rows[:count]):
            path = root / row["image"]
            (folder / f"{index:04d}_{path.name}").symlink_to(path)
        return [str(folder)]

    dataset = ["--dataset", "magnetic-tile", str(root)] if opts.images is None else linked("subset", opts.images)
    runs: dict[str, dict] = {}
    runs["today"] = _train([*dataset, "--out", str(work / "today.safetensors"), "--cache-gb", "0",
                            "--stop-fraction", "0"])
    print("today", runs["today"], flush=True)
    runs["new"] = _train([*dataset, "--out", str(work / "new.safetensors")])
    print("new", runs["new"], flush=True)

    runs["new_small"] = _train([*linked("small", opts.small), "--out", str(work / "small.safetensors")])
    print("small", runs["new_small"], flush=True)

    ckpt = work / "ckpt"
    resumed = work / "resumed.safetensors"
    resume_args = [*dataset, "--out", str(resumed), "--checkpoint", str(ckpt), "--checkpoint-every", "50"]
    killed = _train(resume_args, kill_after=runs["new"]["wall_s"] / 2)
    finished = _train([*resume_args, "--resume"])
    same = resumed.exists() and resumed.read_bytes() == (work / "new.safetensors").read_bytes()
    runs["resume"] = {"killed": killed, "resumed": finished, "byte_identical": same}
    print("resume", runs["resume"], flush=True)

    today, new = runs["today"], runs["new"]
    result = {
        "what": "seqcore train on magnetic-tile train, defaults; today = --cache-gb 0 --stop-fraction 0",
        "images": len(rows) if opts.images is None else min(opts.images, len(rows)),
        "small_images": opts.small,
        "runs": runs,
        "speedup_vs_today": round(today["wall_s"] / new["wall_s"], 2),
        "fraction_of_anomalib": round(new["wall_s"] / ANOMALIB_SECONDS, 3),
        "rss_ratio_all_vs_small": round(new["peak_rss_mb"] / runs["new_small"]["peak_rss_mb"], 3),
        "targets": {"speedup_vs_today": ">= 2.5", "wall_s": "<= 70", "rss_ratio_all_vs_small": "<= 1.1",
                    "resume_byte_identical": True},
        "load_average_at_end": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
