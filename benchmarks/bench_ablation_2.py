"""Second quality ablation (issue 14): does any generalising change beat the chosen default?

Candidates change one axis of the default chosen by ``bench_quality.py`` (short side 256,
blocks.2 + blocks.4 pooled 3x3 and 1x1 fused, σ on val, NN image score, greedy coreset):
input resolution (short side 320 / 384), three-level feature sets under a fixed random projection
to the default's 152 dimensions (timm out_indices 2, 3, 4 = blocks.2 + .4 + .6; and 1, 2, 3 =
blocks.1 + .2 + .4, blocks.1 average-pooled to the stride-8 grid so the patch count stays), one σ
per bank (chosen on val), and image scores computed from the same patch grids (no refit). Every
candidate is scored by bench_quality's ``rule_score`` over both datasets' validation splits; val
and test figures are both recorded.
Runs are resumable pieces: one ``--datasets`` / ``--candidates`` slice per call, merged into
``--out``, with backbone levels and banks cached by bench_quality's Runner under ``--cache``.

    nice python benchmarks/bench_ablation_2.py --datasets kolektorsdd --candidates default short320
    python benchmarks/bench_ablation_2.py                    # no candidates: recompute the summary of --out
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_quality as bq  # noqa: E402
import quality_lib as ql  # noqa: E402
from seqcore.models.anomaly_map import anomaly_map  # noqa: E402

PROJECTED_DIM = 152  # the default's feature size (40 + 112 channels): the deeper layer set is projected to it
# three levels (blocks.2 + .4 + .6, or with blocks.1 brought to the stride-8 grid), both projected to PROJECTED_DIM
bq.SCALES.update({"three": ((0, 1, 2), None, None), "three_pool1": ((0, 1, 2), 1, None)})
DEFAULT = bq.BASELINE.with_changes(sizing="short256", scales=("fine", "fine_pool1"), sigma=None)
CANDIDATES = {
    "default": (DEFAULT, None),
    "short320": (DEFAULT.with_changes(sizing="short320"), None),
    "short384": (DEFAULT.with_changes(sizing="short384"), None),
    "layers234_proj152": (DEFAULT.with_changes(scales=("three", "three_pool1")), None),
    "layers123_s8_proj152": (DEFAULT.with_changes(out_indices=(1, 2, 3), scales=("three", "three_pool1")), None),
    # (σ of the pool-3 bank, σ of the pool-1 bank), chosen on val by the same pixel rule as σ
    "per_bank_sigma": (DEFAULT, ((4.0, 2.0), (6.0, 2.0), (8.0, 2.0), (8.0, 4.0), (2.0, 4.0), (2.0, 8.0))),
}
AXES = {"resolution": ("short320", "short384"), "layers": ("layers234_proj152", "layers123_s8_proj152"),
        "sigma": ("per_bank_sigma",)}
TOPK = (0.001, 0.01, 0.05)  # top-k fractions of the fused patch grid
IMAGE_BLURS = (8.0, 16.0)  # separate, larger σ (prepared pixels) for the image score only


class ProjectedRunner(bq.Runner):
    """bench_quality's Runner; three-level feature sets go through a fixed Gaussian projection, and a recipe
    with out_indices (1, 2, 3) gives levels [blocks.2, blocks.4, blocks.1 average-pooled to the blocks.2 grid]."""

    def levels(self, dataset, split, recipe):
        levels = super().levels(dataset, split, recipe)
        if recipe.out_indices == (2, 3, 4):
            return levels
        if recipe.out_indices != (1, 2, 3):
            raise ValueError(f"out_indices {recipe.out_indices} not supported here; use (2, 3, 4) or (1, 2, 3)")
        pool = torch.nn.functional.adaptive_avg_pool2d
        levels.levels = [[b2, b4, pool(torch.from_numpy(b1)[None], b2.shape[1:])[0].numpy()]
                         for b1, b2, b4 in levels.levels]
        return levels

    def features(self, levels, use, pool, include_pad):
        feats = super().features(levels, use, pool, include_pad)
        if len(use) < 3:
            return feats
        d = feats[0].shape[-1]
        proj = np.random.default_rng(0).standard_normal((d, PROJECTED_DIM)) / np.sqrt(PROJECTED_DIM)
        proj = proj.astype(np.float32)
        return [np.ascontiguousarray(f @ proj) for f in feats]


def fused(branches: list[bq.Branch], split: str, fuse: str) -> tuple[list[np.ndarray], int]:
    """Per-image fused grids of one split (as bench_quality) and their stride."""
    if len(branches) == 1:
        return branches[0].grids[split], branches[0].stride
    out = [ql.fuse_grids([b.grids[split][i] for b in branches], [b.stride for b in branches],
                         [b.scale for b in branches], fuse) for i in range(len(branches[0].grids[split]))]
    return [g for g, _ in out], out[0][1]


def maps_for(branches, grids, stride, levels: ql.SplitLevels, split: str, sigma) -> list[np.ndarray]:
    """Native-resolution maps: the fused grid blurred with one σ, or each bank blurred with its own σ, then averaged."""
    rows = list(zip(levels.prepared_shapes, levels.native_shapes, strict=True))
    if not isinstance(sigma, tuple):
        return [anomaly_map(g, stride, p, n, sigma) for g, (p, n) in zip(grids, rows, strict=True)]
    return [np.mean([anomaly_map(b.grids[split][i] / b.scale, b.stride, p, n, s) for b, s in zip(branches, sigma,
                     strict=True)], axis=0) for i, (p, n) in enumerate(rows)]


def evaluator(maps, gts, classes, names):
    ev = ql.Evaluator(classes)
    for amap, gt, name in zip(maps, gts, names, strict=True):
        ev.add(amap, gt, None, name)
    return ev


def evaluate(runner: bq.Runner, dataset: str, cand: bq.Candidate, sigmas, order: int = 0) -> dict:
    """Val and test figures of one candidate (σ or per-bank σ pair and threshold from val), every image score."""
    branches = [runner.branch(dataset, cand, s, order) for s in cand.scales]
    _, val_split, test_split = ql.SPLITS[dataset]
    sigmas = sigmas or (bq.SIGMAS if cand.sigma is None else (cand.sigma,))
    data = {}
    for split in (val_split, test_split):
        grids, stride = fused(branches, split, cand.fuse)
        gts, classes = ql.ground_truths(dataset, runner.roots[dataset], split, runner.cache, runner.limit)
        data[split] = (grids, stride, runner.levels(dataset, split, cand.recipe), gts, classes)
    by_sigma = {}
    for sigma in sigmas:
        grids, stride, levels, gts, classes = data[val_split]
        maps = maps_for(branches, grids, stride, levels, val_split, sigma)
        ev = evaluator(maps, gts, classes, levels.names)
        threshold = ev.best_threshold()
        by_sigma[sigma] = (maps, ev, threshold, ev.compute(threshold))
    sigma = max(sigmas, key=lambda s: np.mean([getattr(by_sigma[s][3], k) or 0.0 for k in bq.FIGURES[1:]]))
    val_maps, val_ev, threshold, val_result = by_sigma[sigma]
    out = {"blur_sigma": sigma, "threshold": threshold, "fit_seconds": sum(b.fit_seconds for b in branches)}
    first = branches[0]
    for split in (val_split, test_split):
        grids, stride, levels, gts, classes = data[split]
        if split == val_split:
            maps, ev, result = val_maps, val_ev, val_result
        else:
            maps = maps_for(branches, grids, stride, levels, split, sigma)
            ev = evaluator(maps, gts, classes, levels.names)
            result = ev.compute(threshold)
        feats = runner.features(levels, first.use, first.pool, cand.include_pad)
        nn = [(i, f) for i, f in zip(first.nn_index[split], feats, strict=True)]
        rules = {"max": ev.image_scores,
                 "nn": [ql.nn_reweighted_score(g, i, f, first.bank, first.support)
                        for g, (i, f) in zip(grids, nn, strict=True)],
                 "nn_pool3_bank_only": [ql.nn_reweighted_score(g, i, f, first.bank, first.support)
                                        for g, (i, f) in zip(first.grids[split], nn, strict=True)],
                 "map_top1pct_mean": [ql.topk_mean_score(m, 0.01) for m in maps]}
        rules.update({f"grid_top{k * 100:g}pct_mean": [ql.topk_mean_score(g, k) for g in grids] for k in TOPK})
        rules.update({f"max_blur{s:g}": [float(anomaly_map(g, stride, p, p, s).max()) for g, p in
                                         zip(grids, levels.prepared_shapes, strict=True)] for s in IMAGE_BLURS})
        image = {name: ql.auroc(s, ev.image_labels) for name, s in rules.items()}
        out["val" if split == val_split else "test"] = {
            "image_auroc": image[cand.image_score], "pixel_auroc": result.pixel_auroc, "aupro": result.aupro,
            "f1": result.f1, "precision": result.precision, "recall": result.recall, "mR_DW": result.mR_DW,
            "R_DW": result.class_recall_dw, "image_auroc_by_rule": image}
    if isinstance(out["blur_sigma"], tuple):
        out["blur_sigma"] = list(out["blur_sigma"])
    return out


def library_run(dataset: str, root: Path, short_side: int, order: int, capacity: int, limit: int | None) -> dict:
    """The library default (sequential coreset, public API, as bench_default.py) at another input short side;
    test image AUROC both with the model's NN score and with the mean of the top 1 % of the map."""
    from bench_default import Limited, peak_rss_mb
    from seqcore import SequentialPatchCore
    from seqcore.features import FeatureConfig
    from seqcore.metrics import Evaluator
    from seqcore.models import calibrate

    train_split, val_split, test_split = ql.SPLITS[dataset]
    model = SequentialPatchCore(FeatureConfig(resize_short_side=short_side), capacity=capacity)
    start = time.perf_counter()
    model.fit(Limited(ql.open_split(dataset, root, train_split), limit, order), progress=False)
    out = {"order": order, "short_side": short_side, "fit_seconds": time.perf_counter() - start}
    val = Limited(ql.open_split(dataset, root, val_split), limit)
    calibrate(model, val, progress=False)
    out.update(blur_sigma=model.blur_sigma, threshold=model.threshold)
    for name, data in (("val", val), ("test", Limited(ql.open_split(dataset, root, test_split), limit))):
        ev = Evaluator(list(data.defect_classes), list(data.impurity_classes))
        top = []
        start = time.perf_counter()
        for sample in data:
            prediction = model.predict(sample)
            ev.add(prediction.anomaly_map, sample.gt, prediction.score, sample.name)
            top.append(ql.topk_mean_score(prediction.anomaly_map, 0.01))
        out[f"{name}_ms_per_image"] = 1000.0 * (time.perf_counter() - start) / len(data)
        result = ev.compute(model.threshold)
        out[name] = {k: getattr(result, k) for k in bq.FIGURES}
        out[name]["image_auroc_by_rule"] = {"nn": result.image_auroc,
                                            "map_top1pct_mean": ql.auroc(top, ev.image_labels)}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def mean_figures(entry: dict, split: str, image_rule: str | None = None) -> float:
    """Mean of the five figures of one dataset's split, optionally with another image-score rule."""
    fig = dict(entry[split])
    if image_rule is not None:
        fig["image_auroc"] = fig["image_auroc_by_rule"][image_rule]
    return float(np.mean([fig.get(k) or 0.0 for k in bq.FIGURES]))


def library_vs_default(report: dict) -> dict:
    """Library runs at another short side against the library default of quality_default.json (same protocol):
    per dataset the mean over the orders run of the five figures and their mean, val and test."""
    path = REPO / "benchmarks" / "results" / "quality_default.json"
    if not path.is_file() or "library_runs" not in report:
        return {}
    default = json.loads(path.read_text())["datasets"]
    out = {}
    for side, per in report["library_runs"].items():
        for dataset, runs in per.items():
            orders = sorted(runs)
            row = {"orders": orders}
            for split in ("val", "test"):
                ours = {k: float(np.mean([runs[o][split][k] or 0.0 for o in orders])) for k in bq.FIGURES}
                theirs = {k: float(np.mean([r[split][k] or 0.0 for r in default[dataset]["default_runs"]
                                            if str(r["order"]) in orders])) for k in bq.FIGURES}
                row[split] = {side: ours, "short256": theirs, f"mean_{side}": float(np.mean(list(ours.values()))),
                              "mean_short256": float(np.mean(list(theirs.values())))}
            out.setdefault(side, {})[dataset] = row
    return out


def summary(report: dict) -> dict:
    """Rule scores of every complete candidate, per-axis decisions and the image-score rule choice."""
    datasets = report["datasets"]
    done = {n: c for n, c in report["candidates"].items() if all(d in c["datasets"] for d in datasets)}
    scores = {}
    for name, c in done.items():
        per = c["datasets"]
        scores[name] = {"rule_score_val": bq.rule_score({d: per[d]["val"] for d in datasets}),
                        "rule_score_test": bq.rule_score({d: per[d]["test"] for d in datasets}),
                        "test_mean_by_dataset": {d: mean_figures(per[d], "test") for d in datasets}}
    out = {"scores": scores, "decisions": {}, "library_vs_default": library_vs_default(report)}
    if "default" not in done:
        return out
    base = scores["default"]
    for axis, names in AXES.items():
        measured = [n for n in names if n in scores]
        if not measured:
            continue
        best = max(measured, key=lambda n: scores[n]["rule_score_val"])
        gain = scores[best]["rule_score_val"] - base["rule_score_val"]
        no_regress = all(scores[best]["test_mean_by_dataset"][d] >= base["test_mean_by_dataset"][d] for d in datasets)
        lower = {d: [k for k in bq.FIGURES if (done[best]["datasets"][d]["test"][k] or 0.0)
                     < (done["default"]["datasets"][d]["test"][k] or 0.0)] for d in datasets}
        out["decisions"][axis] = {"best_variant": best, "val_gain": gain, "test_regresses": not no_regress,
                                  "test_figures_below_default": lower, "rule_picks": gain > 0 and no_regress}
    out["test_regresses_note"] = ("test_regresses compares the mean of the five test figures per dataset with the "
                                  "default's; test_figures_below_default lists the single figures that fall")
    rules = list(done["default"]["datasets"][datasets[0]]["val"]["image_auroc_by_rule"])
    by_rule = {}
    for rule in rules:
        per = done["default"]["datasets"]
        by_rule[rule] = {"rule_score_val": float(np.mean([mean_figures(per[d], "val", rule) for d in datasets])),
                         "rule_score_test": float(np.mean([mean_figures(per[d], "test", rule) for d in datasets])),
                         "image_auroc_val": {d: per[d]["val"]["image_auroc_by_rule"][rule] for d in datasets},
                         "image_auroc_test": {d: per[d]["test"]["image_auroc_by_rule"][rule] for d in datasets}}
    best = max(by_rule, key=lambda r: by_rule[r]["rule_score_val"])
    gain = by_rule[best]["rule_score_val"] - by_rule["nn"]["rule_score_val"]
    regress = any((by_rule[best]["image_auroc_test"][d] or 0.0) < (by_rule["nn"]["image_auroc_test"][d] or 0.0)
                  for d in datasets)
    out["image_score"] = {"by_rule": by_rule, "best_variant": best, "val_gain": gain, "test_regresses": regress,
                          "rule_picks": gain > 0 and not regress}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=list(ql.SPLITS), choices=list(ql.SPLITS))
    parser.add_argument("--candidates", nargs="+", default=[], choices=list(CANDIDATES))
    parser.add_argument("--order", type=int, default=0, help="coreset seed (image order) of this piece")
    parser.add_argument("--costs", action="store_true", help="only time fit and ms/image (bench_quality.time_costs), "
                        "all --candidates in this one process so that their ms/image compare")
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--limit", type=int, help="use only the first N images of every split (smoke runs)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/quality_cache"), help="backbone-level cache")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality_ablation_2.json")
    parser.add_argument("--library", type=int, metavar="SHORT_SIDE",
                        help="instead: fit the library default at this short side (order --order), see library_run")
    args = parser.parse_args()
    report = json.loads(args.out.read_text()) if args.out.is_file() else {
        "protocol": "as bench_quality.py: fit on train (greedy k-center, K from --capacity); blur σ (or per-bank σ "
                    "pair) and max-F1 threshold on val; figures at native resolution; one rule (bench_quality."
                    "rule_score) over both datasets' val figures",
        "rule": bq.rule_score.__doc__.strip().replace("\n    ", " "), "datasets": list(ql.SPLITS),
        "capacity": args.capacity, "default": DEFAULT.describe(), "candidates": {}, "costs": {}, "pieces": []}
    roots = {name: args.data / name for name in args.datasets}
    runner = ProjectedRunner(roots, args.cache, args.capacity, args.limit)
    if args.library:
        for dataset in args.datasets:
            result = library_run(dataset, roots[dataset], args.library, args.order, args.capacity, args.limit)
            report.setdefault("library_runs", {}).setdefault(f"short{args.library}", {}).setdefault(
                dataset, {})[str(args.order)] = result
            shown = {s: {k: round(v, 3) if isinstance(v, float) else v for k, v in result[s].items()}
                     for s in ("val", "test")}
            print(f"library short{args.library} {dataset} order {args.order}: {json.dumps(shown)}", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1))
    for name in args.candidates:
        cand, sigmas = CANDIDATES[name]
        entry = report["candidates"].setdefault(name, {"config": cand.describe(), "per_bank_sigmas": sigmas,
                                                       "datasets": {}, "orders": {}})
        for dataset in args.datasets:
            if args.costs:
                report["costs"].setdefault(name, {})[dataset] = bq.time_costs(runner, cand, dataset,
                                                                              10 if args.limit else 40)
                print(f"{name} {dataset} costs {report['costs'][name][dataset]}", flush=True)
                continue
            start = time.perf_counter()
            result = evaluate(runner, dataset, cand, sigmas, args.order)
            result["seconds"] = time.perf_counter() - start
            entry["orders"].setdefault(dataset, {})[str(args.order)] = result
            if args.order == 0:
                entry["datasets"][dataset] = result
            image = {k: round(v or 0, 3) for k, v in result["test"]["image_auroc_by_rule"].items()}
            print(f"{name} {dataset} order {args.order}: " + " | ".join(
                f"{s} " + json.dumps({k: round(result[s][k] or 0, 3) for k in bq.FIGURES}) for s in ("val", "test"))
                + f" test image AUROC by rule {json.dumps(image)}", flush=True)
            report["pieces"].append({"candidate": name, "dataset": dataset, "order": args.order,
                                     "seconds": result["seconds"], "limit": args.limit, "when": time.strftime("%F %T")})
            report["summary"] = summary(report)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1))
    report["summary"] = summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"]["decisions"], indent=1))
    if "image_score" in report["summary"]:
        print(json.dumps({k: v for k, v in report["summary"]["image_score"].items() if k != "by_rule"}))


if __name__ == "__main__":
    main()
