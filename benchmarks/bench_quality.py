"""Quality on every real dataset against an in-process anomalib-equivalent PatchCore (issue 14).

Each dataset is fitted on its train split, blur σ (where a candidate asks) and the max-F1
threshold are chosen on its validation split, and test figures are taken at that threshold.
All figures are at native resolution: maps resized bilinearly to the image, masks at image size.

The baseline reproduces anomalib's PatchCore with the same Lite0 weights: ImageNet
normalisation, 256x256 squash, no border padding, blocks.2 + blocks.4 average-pooled 3x3
(zeros counted), greedy k-center (projection 128) to K = 2048, σ 4, image score = the
nearest-neighbour reweighted max patch score. Every candidate changes one axis of it; the
default is then chosen by ONE rule over all datasets' validation figures (``rule_score``,
forward selection in ``choose_default``) and reported on val and test. Backbone levels and
memory banks are cached under ``--cache`` (outside the repository) so that every candidate
reuses one backbone pass and reruns skip the coresets; fit times are those of the first run.

The chosen configuration is the library default; ``bench_default.py`` measures it through the
public API (``SequentialPatchCore()``, ``calibrate``, ``predict``) next to this baseline.

    nice python benchmarks/bench_quality.py                      # full run (~25 min on 2 busy cores, cold cache)
    python benchmarks/bench_quality.py --limit 12 --capacity 64 --out /tmp/q.json   # smoke run
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads

import argparse
import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "benchmarks"))

import quality_lib as ql  # noqa: E402
from seqcore.coreset.knn import nearest_neighbors  # noqa: E402

# anomalib 2.7 PatchCore on magnetic-tile test (same Lite0 weights, 256x256, K=2048, σ 4; issues 4 and 14).
REFERENCE = {"image_auroc": 0.879, "pixel_auroc": 0.936, "f1": 0.404, "mR_DW": 0.46}
FIGURES = ("image_auroc", "pixel_auroc", "aupro", "f1", "mR_DW")
SIGMAS = (2.0, 4.0, 6.0, 8.0)  # blur candidates when σ is chosen on val
# scale name -> (backbone levels, pool override, backbone override); "fine" is the candidate's own features
SCALES = {"fine": ((0, 1), None, None), "fine_pool1": ((0, 1), 1, None), "deep": ((1, 2), None, None),
          "fine_lite1": ((0, 1), None, "lite1")}


@dataclass(frozen=True)
class Candidate:
    """One configuration: input recipe, patch features, coreset, map and image-score rule."""

    recipe: ql.InputRecipe = ql.InputRecipe()
    pool: int = 3
    include_pad: bool = True  # pooling counts zeros at the border (anomalib) or averages real cells (seqcore)
    method: str = "greedy"
    scales: tuple[str, ...] = ("fine",)  # fused receptive fields (see SCALES); one entry: no fusion
    fuse: str = "mean"
    sigma: float | None = 4.0  # None: chosen on val from SIGMAS
    image_score: str = "nn"  # "nn" (PatchCore reweighting), "max" (map maximum) or "topk" (top 1 % patches)

    def with_changes(self, **changes) -> Candidate:
        recipe_keys = {f.name for f in dataclasses.fields(ql.InputRecipe)}
        recipe = dataclasses.replace(self.recipe, **{k: v for k, v in changes.items() if k in recipe_keys})
        return dataclasses.replace(self, recipe=recipe, **{k: v for k, v in changes.items() if k not in recipe_keys})

    def describe(self) -> dict:
        data = dataclasses.asdict(self)
        data.update(data.pop("recipe"))
        data["scales"] = list(self.scales)
        return data


BASELINE = Candidate()
# One axis at a time against the baseline; the axis name groups mutually exclusive variants.
ABLATIONS: dict[str, dict[str, dict]] = {
    "image_score": {"score_max": dict(image_score="max"), "score_topk": dict(image_score="topk")},
    "blur": {"sigma_on_val": dict(sigma=None)},
    "normalization": {"norm_backbone": dict(normalization="backbone")},
    "border": {"pad8": dict(border_pad=8)},
    "pooling": {"pool1": dict(pool=1), "pool3_real_cells": dict(include_pad=False)},
    "coreset": {"sequential": dict(method="sequential")},
    "sizing": {"short256": dict(sizing="short256")},
    "multiscale": {"ms_pool1_pool3": dict(scales=("fine", "fine_pool1")), "ms_fine_deep": dict(scales=("fine", "deep")),
                   "ms_fine_deep_max": dict(scales=("fine", "deep"), fuse="max")},
    "ensemble": {"ensemble_lite1": dict(scales=("fine", "fine_lite1"))},  # output-level Lite0 + Lite1
}


def rule_score(per_dataset_val: dict[str, dict]) -> float:
    """THE selection rule, fixed before any figure was seen: the mean over datasets of the mean of the
    five validation figures (image AUROC, pixel AUROC, AUPRO, F1_PX, mR_DW); undefined figures count 0."""
    return float(np.mean([np.mean([fig.get(k) or 0.0 for k in FIGURES]) for fig in per_dataset_val.values()]))


@dataclass
class Branch:
    """One fitted memory bank and its patch scores on val and test (cached across candidates)."""

    bank: np.ndarray
    support: np.ndarray  # each bank point's 9 nearest bank points (PatchCore reweighting)
    use: tuple[int, ...]
    pool: int
    stride: int
    scale: float
    fit_seconds: float
    grids: dict[str, list[np.ndarray]] = field(default_factory=dict)
    nn_index: dict[str, list[np.ndarray]] = field(default_factory=dict)


class Runner:
    """Fits branches once, evaluates candidates per dataset, remembers everything for the JSON."""

    def __init__(self, roots: dict[str, Path], cache: Path, capacity: int, limit: int | None) -> None:
        self.roots, self.cache, self.capacity, self.limit = roots, cache, capacity, limit
        self.branches: dict[tuple, Branch] = {}

    def levels(self, dataset: str, split: str, recipe: ql.InputRecipe) -> ql.SplitLevels:
        return ql.extract_levels(dataset, self.roots[dataset], split, recipe, self.cache, self.limit)

    def features(self, levels: ql.SplitLevels, use: tuple[int, ...], pool: int, include_pad: bool) -> list[np.ndarray]:
        return [ql.patch_features(lv, use, pool, include_pad, shape, levels.border_pad)[0]
                for lv, shape in zip(levels.levels, levels.prepared_shapes, strict=False)]

    def branch(self, dataset: str, cand: Candidate, scale: str, order: int) -> Branch:
        use, pool_override, backbone = SCALES[scale]
        pool = cand.pool if pool_override is None else pool_override
        recipe = cand.recipe if backbone is None else dataclasses.replace(cand.recipe, backbone=backbone)
        key = (dataset, recipe, use, pool, cand.include_pad, cand.method, order)
        if key in self.branches:
            return self.branches[key]
        splits = ql.SPLITS[dataset]
        stride = ql.LEVEL_STRIDES[use[0]]
        limit = "" if self.limit is None else f"_limit{self.limit}"
        pad = "z" if cand.include_pad else "r"
        stored = self.cache / "banks" / (f"{dataset}_{recipe.key}_l{''.join(map(str, use))}_p{pool}"
                                         f"{pad}_{cand.method}{order}_k{self.capacity}{limit}.npz")
        if stored.is_file():  # banks are deterministic given the cached levels; reuse them across runs
            with np.load(stored) as z:
                bank, fit_seconds, scale_value = z["bank"], float(z["fit_seconds"]), float(z["scale"])
        else:
            train = self.features(self.levels(dataset, splits[0], recipe), use, pool, cand.include_pad)
            start = time.perf_counter()
            if cand.method == "greedy":
                bank = ql.greedy_bank(train, self.capacity, seed=order)
            else:
                bank = ql.sequential_bank(train, self.capacity, order_seed=order)
            fit_seconds = time.perf_counter() - start
            sample = np.concatenate([f.reshape(-1, f.shape[-1]) for f in train[::8]])
            scale_value = ql.nominal_scale(nearest_neighbors(sample, bank)[0])
            del train, sample
            stored.parent.mkdir(parents=True, exist_ok=True)
            np.savez(stored, bank=bank, fit_seconds=fit_seconds, scale=scale_value)
        support = ql.bank_neighbours(bank, min(9, len(bank)))
        out = Branch(bank, support, use, pool, stride, scale_value, fit_seconds)
        for split in splits[1:]:
            feats = self.features(self.levels(dataset, split, recipe), use, pool, cand.include_pad)
            out.grids[split], out.nn_index[split] = [], []
            for f in feats:
                dist, idx = nearest_neighbors(f.reshape(-1, f.shape[-1]), bank)
                out.grids[split].append(dist.reshape(f.shape[:2]))
                out.nn_index[split].append(idx.reshape(f.shape[:2]))
        self.branches[key] = out
        print(f"  branch {dataset} {scale} {recipe.key} pool{pool} pad_zeros={cand.include_pad} "
              f"{cand.method}@{order}: fit {fit_seconds:.1f} s, nominal scale {scale_value:.3f}", flush=True)
        return out

    def evaluate(self, dataset: str, cand: Candidate, order: int = 0) -> dict:
        """Val and test figures of one candidate on one dataset (σ and threshold from val)."""
        branches = [self.branch(dataset, cand, s, order) for s in cand.scales]
        _, val_split, test_split = ql.SPLITS[dataset]
        grids, stride = {}, branches[0].stride
        for split in (val_split, test_split):
            if len(branches) == 1:
                grids[split] = branches[0].grids[split]
            else:
                fused = [ql.fuse_grids([b.grids[split][i] for b in branches], [b.stride for b in branches],
                                       [b.scale for b in branches], cand.fuse)
                         for i in range(len(branches[0].grids[split]))]
                grids[split], stride = [g for g, _ in fused], fused[0][1]
        val_levels = self.levels(dataset, val_split, cand.recipe)
        test_levels = self.levels(dataset, test_split, cand.recipe)
        val_gts, classes = ql.ground_truths(dataset, self.roots[dataset], val_split, self.cache, self.limit)
        test_gts, _ = ql.ground_truths(dataset, self.roots[dataset], test_split, self.cache, self.limit)
        sigmas = SIGMAS if cand.sigma is None else (cand.sigma,)
        by_sigma = {}
        for sigma in sigmas:
            ev = ql.evaluator_for(grids[val_split], stride, val_levels, val_gts, classes, sigma)
            threshold = ev.best_threshold()
            by_sigma[sigma] = (ev, threshold, ev.compute(threshold))
        # σ on val: the pixel part of the selection rule (pixel AUROC, AUPRO, F1_PX, mR_DW)
        sigma = max(sigmas, key=lambda s: np.mean([getattr(by_sigma[s][2], k) or 0.0 for k in FIGURES[1:]]))
        val_ev, threshold, val_result = by_sigma[sigma]
        test_ev = ql.evaluator_for(grids[test_split], stride, test_levels, test_gts, classes, sigma)
        test_result = test_ev.compute(threshold)
        out = {"blur_sigma": sigma, "threshold": threshold, "fit_seconds": sum(b.fit_seconds for b in branches)}
        first = branches[0]
        if stride != first.stride:
            raise ValueError("the first scale of a fused candidate must be the finest (it carries the reweighting)")
        for split, ev, result in ((val_split, val_ev, val_result), (test_split, test_ev, test_result)):
            # PatchCore reweighting of the (fused) max patch, with the first scale's features and bank
            feats = self.features(self.levels(dataset, split, cand.recipe), first.use, first.pool, cand.include_pad)
            rules = {"max": ev.image_scores,
                     "topk": [ql.topk_mean_score(g) for g in grids[split]],
                     "nn": [ql.nn_reweighted_score(g, i, f, first.bank, first.support)
                            for g, i, f in zip(grids[split], first.nn_index[split], feats, strict=False)]}
            image = {name: ql.auroc(s, ev.image_labels) for name, s in rules.items()}
            figures = {"image_auroc": image[cand.image_score], "pixel_auroc": result.pixel_auroc,
                       "aupro": result.aupro, "f1": result.f1, "precision": result.precision,
                       "recall": result.recall, "mR_DW": result.mR_DW, "R_DW": result.class_recall_dw,
                       "image_auroc_by_rule": image}
            out["val" if split == val_split else "test"] = figures
        return out


def run_candidate(runner: Runner, cand: Candidate, orders: int) -> dict:
    """Figures per dataset; sequential candidates are fitted on ``orders`` image orders and averaged."""
    out = {"config": cand.describe(), "datasets": {}}
    for dataset in runner.roots:
        runs = [runner.evaluate(dataset, cand, order) for order in range(orders if cand.method == "sequential" else 1)]
        entry = dict(runs[0])
        if len(runs) > 1:
            for split in ("val", "test"):
                entry[split] = dict(entry[split])
                for key in FIGURES:
                    values = [r[split][key] for r in runs if r[split][key] is not None]
                    entry[split][key] = float(np.mean(values)) if values else None
                    entry[split][f"{key}_spread"] = [r[split][key] for r in runs]
        out["datasets"][dataset] = entry
    out["rule_score_val"] = rule_score({d: e["val"] for d, e in out["datasets"].items()})
    out["rule_score_test"] = rule_score({d: e["test"] for d, e in out["datasets"].items()})
    return out


def choose_default(runner: Runner, results: dict, orders: int) -> tuple[Candidate, dict, list]:
    """Forward selection under ``rule_score``: per axis the best variant on val; axes that beat the
    baseline are added in order of their gain, each kept only if the combination improves the val score."""
    base = results["baseline"]["rule_score_val"]
    decisions, ranked = {}, []
    for axis, variants in ABLATIONS.items():
        best = max(variants, key=lambda name: results[name]["rule_score_val"])
        gain = results[best]["rule_score_val"] - base
        decisions[axis] = {"best_variant": best, "val_gain": gain}
        if gain > 0:
            ranked.append((gain, axis, best))
    changes: dict = {}
    current_name, current_score = "baseline", base
    steps = []
    for _, axis, variant in sorted(ranked, reverse=True):
        trial = {**changes, **ABLATIONS[axis][variant]}
        name = variant if not changes else f"{current_name}+{variant}"
        if name not in results:
            results[name] = run_candidate(runner, BASELINE.with_changes(**trial), orders)
            print_candidate(name, results[name])
        kept = results[name]["rule_score_val"] > current_score
        steps.append({"added": variant, "candidate": name, "rule_score_val": results[name]["rule_score_val"],
                      "kept": kept})
        if kept:
            changes, current_name, current_score = trial, name, results[name]["rule_score_val"]
    for axis in decisions:
        decisions[axis]["adopted"] = any(s["kept"] and s["added"] == decisions[axis]["best_variant"] for s in steps)
    results["chosen"] = results[current_name]
    return BASELINE.with_changes(**changes), decisions, steps


def print_candidate(name: str, result: dict) -> None:
    print(f"{name}: rule val {result['rule_score_val']:.4f} test {result['rule_score_test']:.4f} "
          + " ".join(f"{d}: {json.dumps({k: round(v['test'][k] or 0, 3) for k in FIGURES})}"
                     for d, v in result["datasets"].items()), flush=True)


def time_costs(runner: Runner, cand: Candidate, dataset: str, count: int) -> dict:
    """Fit seconds (train extraction + coreset) and end-to-end ms/image on test images, this process."""
    import torch

    from seqcore.features import FeatureExtractor

    splits = ql.SPLITS[dataset]
    branches = [runner.branch(dataset, cand, s, 0) for s in cand.scales]
    recipes = {}
    for name in cand.scales:
        backbone = SCALES[name][2]
        recipes[name] = cand.recipe if backbone is None else dataclasses.replace(cand.recipe, backbone=backbone)
    extractors = {r.key: (ql.lite1_extractor(r.feature_config()) if r.backbone == "lite1"
                          else FeatureExtractor(r.feature_config())) for r in recipes.values()}
    unique = {r.key: r for r in recipes.values()}.values()
    extraction = sum(runner.levels(dataset, splits[0], r).seconds_per_image
                     * len(runner.levels(dataset, splits[0], r).names) for r in unique)
    fit = sum(b.fit_seconds for b in branches)
    data = ql.open_split(dataset, runner.roots[dataset], splits[2])
    images = [data[i].image for i in range(min(count, len(data)))]
    start = time.perf_counter()
    with torch.no_grad():
        for image in images:
            levels = {}
            for key, extractor in extractors.items():
                prepared = extractor.prepare(image)
                levels[key] = [lv[0].numpy() for lv in extractor.backbone_levels(prepared[None])]
            grids = []
            for name, b in zip(cand.scales, branches, strict=False):
                use, override, _ = SCALES[name]
                f, _ = ql.patch_features(levels[recipes[name].key], use, cand.pool if override is None else override,
                                         cand.include_pad, prepared.shape[:2], cand.recipe.border_pad)
                grids.append(nearest_neighbors(f.reshape(-1, f.shape[-1]), b.bank)[0].reshape(f.shape[:2]))
            grid, stride = (grids[0], branches[0].stride) if len(grids) == 1 else ql.fuse_grids(
                grids, [b.stride for b in branches], [b.scale for b in branches], cand.fuse)
            ql.anomaly_map(grid, stride, prepared.shape[:2], image.shape[:2], cand.sigma or 4.0)
    ms = 1000.0 * (time.perf_counter() - start) / len(images)
    return {"fit_seconds": extraction + fit, "coreset_seconds": fit, "inference_ms_per_image": ms,
            "note": "backbone levels are extracted with blocks.6 included (needed by the deep scale)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=list(ql.SPLITS), choices=list(ql.SPLITS))
    parser.add_argument("--capacity", type=int, default=2048)
    parser.add_argument("--orders", type=int, default=2, help="image orders for sequential-coreset candidates")
    parser.add_argument("--limit", type=int, help="use only the first N images of every split (smoke runs)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/quality_cache"), help="backbone-level cache")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality_datasets.json")
    args = parser.parse_args()
    import torch

    roots = {name: args.data / name for name in args.datasets}
    runner = Runner(roots, args.cache, args.capacity, args.limit)
    results: dict = {}
    start = time.perf_counter()
    candidates = {"baseline": BASELINE}
    candidates.update({name: BASELINE.with_changes(**change) for variants in ABLATIONS.values()
                       for name, change in variants.items()})
    for name, cand in candidates.items():
        results[name] = run_candidate(runner, cand, args.orders)
        print_candidate(name, results[name])
    chosen, decisions, steps = choose_default(runner, results, args.orders)
    # the library fits the sequential coreset by default: the chosen features with it, over image orders
    results["chosen_sequential"] = run_candidate(runner, chosen.with_changes(method="sequential"), args.orders)
    print_candidate("chosen_sequential", results["chosen_sequential"])
    costs = {label: {d: time_costs(runner, cand, d, 10 if args.limit else 40) for d in roots}
             for label, cand in (("baseline", BASELINE), ("chosen", chosen))}
    report = {
        "protocol": "fit on train; blur σ (where asked) and max-F1 threshold on val; figures at native resolution",
        "rule": rule_score.__doc__.strip().replace("\n    ", " "),
        "datasets": {d: {s: len(runner.levels(d, s, BASELINE.recipe).names) for s in ql.SPLITS[d]} for d in roots},
        "capacity": args.capacity, "reference_magnetic_tile_test": REFERENCE,
        "decisions": decisions, "selection_steps": steps, "chosen": chosen.describe(), "candidates": results,
        "costs": costs,
        "seconds": time.perf_counter() - start,
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "note": "2 cores shared with other jobs: timings are indicative only"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"chosen: {chosen.describe()}\nwrote {args.out}")


if __name__ == "__main__":
    main()
