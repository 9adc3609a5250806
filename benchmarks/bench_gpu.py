"""GPU benchmark of the CUDA backend (run on a GPU machine; prints the GPU name).

In one run: candidates/s of the CUDA offer_batch for K = 2048, d in {152, 1536}, in early
training (just filled, many replacements) and steady state (an epoch over data already seen),
against a naive per-candidate torch loop on the same GPU (time-boxed); and nearest-neighbour
patches/s of the CUDA query against a torch matmul + min baseline. Writes
benchmarks/results/gpu_<date>.json (device, date, commit, figures, ratios).

    PYTHONPATH=python python benchmarks/bench_gpu.py [--out FILE] [--commit SHA]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqcore.coreset import SequentialCoreset

K = 2048
REPO = Path(__file__).resolve().parents[1]


def features(n: int, d: int, seed: int) -> torch.Tensor:
    """Feature-like rows on the GPU: non-negative clusters with per-row spread, 5 % repeats."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    centers = torch.randn(64, d, device="cuda", generator=g).abs() * 3 + 1
    pick = torch.randint(0, 64, (n,), device="cuda", generator=g)
    spread = torch.rand(n, 1, device="cuda", generator=g) * 0.8 + 0.2
    rows = (centers[pick] + torch.randn(n, d, device="cuda", generator=g) * spread).clamp_min_(0)
    repeat = torch.rand(n, device="cuda", generator=g) < 0.05
    rows[repeat] = rows[torch.randint(0, n, (int(repeat.sum()),), device="cuda", generator=g)]
    return rows.contiguous()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start, out


def naive_loop(points: torch.Tensor, candidates: torch.Tensor, seconds: float) -> dict[str, float]:
    """Per-candidate torch loop (the docs/design.md §8 baseline): distances, global minimum, update."""
    x = points.clone()
    dmat = torch.cdist(x, x)
    dmat.fill_diagonal_(float("inf"))
    k = len(x)
    done = replaced = 0
    torch.cuda.synchronize()
    start = time.perf_counter()
    for p in candidates:
        nearest = torch.linalg.vector_norm(x - p, dim=1).min()
        flat = torch.argmin(dmat)
        if nearest.item() > dmat.view(-1)[flat].item():
            i, j = divmod(int(flat.item()), k)
            r = min(i, j)
            x[r] = p
            row = torch.linalg.vector_norm(x - p, dim=1)
            row[r] = float("inf")
            dmat[r] = row
            dmat[:, r] = row
            replaced += 1
        done += 1
        if done % 16 == 0 and time.perf_counter() - start > seconds:
            break
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"candidates": done, "seconds": elapsed, "per_s": done / elapsed, "replaced": replaced}


def bench_offer(d: int, n_train: int, naive_seconds: float) -> list[dict[str, Any]]:
    rows = features(K + n_train, d, seed=d)
    core = SequentialCoreset(K, d, device="cuda")
    core.offer_batch(rows[:K])  # fill phase, not timed
    start_points = torch.from_numpy(core.points).cuda()
    train = rows[K:]
    batch = 16384
    results = []

    def epoch() -> int:
        return sum(core.offer_batch(train[b : b + batch]) for b in range(0, len(train), batch))

    def loop_stats(before: dict[str, int]) -> dict[str, int]:
        now = core._impl.stats()  # the CUDA backend's offer-loop counters
        return {key: now[key] - before[key] for key in now}

    before = core._impl.stats()
    seconds, replaced = timed(epoch)
    stats = loop_stats(before)
    naive = naive_loop(start_points, train, naive_seconds)
    results.append(phase_result("early training", d, len(train), seconds, replaced, naive))
    results[-1]["loop"] = stats
    epochs = [replaced]
    while epochs[-1] > len(train) // 1000 and len(epochs) < 6:  # settle on the data seen
        epochs.append(epoch())
    before = core._impl.stats()
    seconds, replaced = timed(epoch)
    stats = loop_stats(before)
    steady_points = torch.from_numpy(core.points).cuda()
    naive = naive_loop(steady_points, train, naive_seconds)
    result = phase_result("steady state", d, len(train), seconds, replaced, naive)
    result["replacements_per_epoch_before"] = epochs
    result["loop"] = stats
    results.append(result)
    print(f"  loop counters: early {results[0]['loop']}, steady {stats}", flush=True)
    return results


def phase_result(phase: str, d: int, n: int, seconds: float, replaced: int, naive: dict[str, float]) -> dict[str, Any]:
    rate = n / seconds
    out = {"phase": phase, "K": K, "d": d, "candidates": n, "batch": 16384, "seconds": seconds,
           "candidates_per_s": rate, "replacements": replaced, "naive_torch_loop": naive,
           "speedup_vs_naive": rate / naive["per_s"]}
    print(f"offer_batch K={K} d={d:5d} {phase:15s}: {rate:12.0f} cand/s ({replaced} replacements of {n}); "
          f"naive torch loop {naive['per_s']:8.0f} cand/s -> {out['speedup_vs_naive']:.0f}x", flush=True)
    return out


def bench_query(d: int, n_queries: int, repeats: int = 3) -> dict[str, Any]:
    bank = features(K, d, seed=100 + d)
    queries = features(n_queries, d, seed=200 + d)
    core = SequentialCoreset(K, d, device="cuda")
    core.offer_batch(bank)
    chunk = 65536

    def ours() -> Any:
        return core.query(queries, chunk_size=chunk)

    xn = (bank * bank).sum(dim=1)

    def baseline() -> Any:
        dist = torch.empty(n_queries, device="cuda")
        idx = torch.empty(n_queries, dtype=torch.int64, device="cuda")
        for s in range(0, n_queries, chunk):
            q = queries[s : s + chunk]
            sq = (q * q).sum(dim=1, keepdim=True) + xn[None] - 2.0 * (q @ bank.T)
            best, arg = sq.min(dim=1)
            dist[s : s + chunk] = best.clamp_min_(0).sqrt_()
            idx[s : s + chunk] = arg
        return dist.cpu().numpy(), idx.cpu().numpy()

    ours(), baseline()  # warm-up
    t_ours = min(timed(ours)[0] for _ in range(repeats))
    t_base = min(timed(baseline)[0] for _ in range(repeats))
    agree = float((ours()[1] == baseline()[1]).mean())
    out = {"K": K, "d": d, "queries": n_queries, "chunk": chunk, "ours_patches_per_s": n_queries / t_ours,
           "torch_matmul_min_patches_per_s": n_queries / t_base, "ratio": t_base / t_ours, "index_agreement": agree}
    print(f"query K={K} d={d:5d}: ours {out['ours_patches_per_s'] / 1e6:7.2f} M/s, torch matmul+min "
          f"{out['torch_matmul_min_patches_per_s'] / 1e6:7.2f} M/s -> {out['ratio']:.2f}x (same index {agree:.4f})",
          flush=True)
    return out


def commit_id(given: str | None) -> str:
    if given:
        return given
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    today = dt.date.today().isoformat()
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / f"gpu_{today}.json")
    parser.add_argument("--commit", default=None)
    parser.add_argument("--train", type=int, default=32768, help="candidates per epoch after the fill")
    parser.add_argument("--naive-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU visible", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 baseline, as in docs/design.md §8
    name = torch.cuda.get_device_name(0)
    print(f"GPU: {name}", flush=True)
    report: dict[str, Any] = {"device": name, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "commit": commit_id(args.commit), "torch": torch.__version__,
                              "cuda_runtime": torch.version.cuda, "offer_batch": [], "query": [], "errors": []}

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")

    for d in (152, 1536):
        try:
            report["offer_batch"] += bench_offer(d, args.train, args.naive_seconds)
        except Exception as exc:  # keep the other figures when one configuration fails
            report["errors"].append(f"offer d={d}: {exc!r}")
            print(f"offer d={d} failed: {exc!r}", flush=True)
        save()
    for d in (256, 1536):
        try:
            report["query"].append(bench_query(d, 262144))
        except Exception as exc:
            report["errors"].append(f"query d={d}: {exc!r}")
            print(f"query d={d} failed: {exc!r}", flush=True)
        save()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
