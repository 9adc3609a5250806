"""``seqcore experiment paper``: the paper's Table I / II protocol end to end (docs/design.md §18)."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

NAME = "experiment"
HELP = "run an experiment protocol: 'paper' (Table I / II rows, fine-tuning, melding, stains on real images)"
EXPERIMENTS = ("paper",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", choices=EXPERIMENTS)
    parser.add_argument("--out", type=Path, required=True, help="output folder (cached models and rows: reruns resume)")
    parser.add_argument("--quick", action="store_true", help="CI size: a few images, small K, 2 epochs")
    parser.add_argument("--orders", type=int, help="image orders for the close rows' spread (default 3)")
    parser.add_argument("--capacity", type=int, help="coreset capacity K (default 2048; quick 64)")
    parser.add_argument("--epochs", type=int, help="maximum epochs per fit (default 5; quick 2)")
    parser.add_argument("--real-train", type=int, metavar="N", help="real training images (default all)")
    parser.add_argument("--val-images", type=int, metavar="N", help="validation images (default all)")
    parser.add_argument("--test-images", type=int, metavar="N", help="test images (default all)")
    parser.add_argument("--synth-train", type=int, metavar="N", help="synthetic training plates per variant (60)")
    parser.add_argument("--data", type=Path, help="magnetic-tile root (default: data_root('magnetic_tile'))")
    parser.add_argument("--docs", type=Path, metavar="MD", help="also write the report here (docs/experiments.md)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--budget-min", type=float, metavar="M",
                        help="start no new row after M minutes (claim rows first); the report lists rows not run")


def _settings(args: argparse.Namespace):
    from seqcore.experiments.paper import PaperSettings

    given = {k: v for k, v in {"orders": args.orders, "capacity": args.capacity, "epochs": args.epochs,
                               "real_train": args.real_train, "val_images": args.val_images,
                               "test_images": args.test_images, "synth_train": args.synth_train,
                               "seed": args.seed}.items() if v is not None}
    return PaperSettings.quick_run(**given) if args.quick else PaperSettings(**given)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from seqcore.experiments import paper_report as rep
    from seqcore.experiments.paper import PaperRun
    from seqcore.experiments.stained import stain_examples

    start = time.perf_counter()
    settings = _settings(args)
    paper = PaperRun(args.out, settings, args.data)
    results = paper.run(None if args.budget_min is None else 60 * args.budget_min)
    agg = rep.aggregate(results)
    stains, low = rep.stain_claims(agg), rep.low_data_claims(agg, paper.rows)
    command = "seqcore " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["experiment"] \
        else f"seqcore experiment paper --out {args.out}" + (" --quick" if args.quick else "")
    context = {
        "command": command, "seconds": time.perf_counter() - start,
        "row_seconds": sum(r.get("seconds", 0.0) for per in results.values() for r in per.values()),
        "cpu": f"{os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}",
        "settings": asdict(settings),
        "images": {"train": len(paper.train), "val": len(paper.val), "test": len(paper.test)},
        "defects": list(paper.test.defect_classes), "impurities": list(paper.test.impurity_classes),
        "not_run": [name for name in paper.rows if name not in results],
    }
    report = rep.report_markdown(agg, stains, low, context)
    (args.out / "report.md").write_text(report)
    stain_examples(paper.test.base, paper.test, args.out / rep.STAIN_FIGURE)
    document = {**context, "rows": {name: {"kind": paper.rows[name].kind, "reference": paper.rows[name].reference,
                                           "fraction": paper.rows[name].fraction, **agg[name],
                                           "per_order": {str(o): r for o, r in results[name].items()}}
                                    for name in results},
                "claims": {"water_stains": stains, "low_data": low}, "not_reproduced": dict(rep.NOT_REPRODUCED)}
    (args.out / "results.json").write_text(json.dumps(document, indent=1))
    if args.docs is not None:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        args.docs.write_text(report)
        shutil.copyfile(args.out / rep.STAIN_FIGURE, args.docs.parent / rep.STAIN_FIGURE)
    met = sum(s["meets_target"] for s in stains)
    print(f"wrote {args.out / 'report.md'} and results.json: {len(results)} rows, stain target met by {met} "
          f"of {len(stains)} pairs, in {context['seconds'] / 60:.1f} min")
    return 0
