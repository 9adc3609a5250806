"""``seqcore train --method cutpaste``: fit (or fine-tune with --init) CutPaste on nominal images."""
from __future__ import annotations

import argparse

from seqcore.commands._options import open_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only CutPaste reads (--encoder, --epochs, --resize, --val, --init, --seed, --threads are shared)."""
    from seqcore.models.cutpaste.augment import DEFECTS

    group = parser.add_argument_group("CutPaste (--method cutpaste)")
    group.add_argument("--patch", type=int, default=64, help="training crop and sliding-window side (default 64)")
    group.add_argument("--window-stride", type=int, default=32, help="sliding-window step (default 32)")
    group.add_argument("--three-way", action="store_true", help="area and thin defects as separate classes")
    group.add_argument("--synthetic-defects", nargs="+", choices=sorted(DEFECTS), default=list(DEFECTS),
                       help="synthetic defects to train on (default: all)")
    group.add_argument("--steps-per-epoch", type=int, default=16)


def run(args: argparse.Namespace, kind: str, root: str) -> int:
    from seqcore.models import calibrate
    from seqcore.models.cutpaste import CutPaste, CutPasteConfig
    from seqcore.models.patchcore.method import DEFAULT_SIGMAS

    data = open_from_args(args, kind, root)
    if args.init:
        model = CutPaste.load(args.init, device=args.device)
    else:
        model = CutPaste(args.encoder, resize_short_side=args.resize or 256, patch=args.patch,
                         stride=args.window_stride, three_way=args.three_way, defects=args.synthetic_defects,
                         blur_sigma=4.0 if args.blur_sigma is None else args.blur_sigma, seed=args.seed,
                         device=args.device)
    config = CutPasteConfig(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch)
    report = model.fit(data, config, threads=args.threads)
    print(f"fit: {report.epochs} epoch(s), held-out accuracy {report.held_out_accuracy:.3f}, {report.seconds:.1f} s")
    if args.val:
        val = open_from_args(args, kind, root, args.val)
        sigmas = DEFAULT_SIGMAS if args.blur_sigma is None else None
        threshold = calibrate(model, val, sigmas=sigmas)
        print(f"blur σ {model.blur_sigma:g}, threshold (max pixel F1 on {args.val}): {threshold:.6g}")
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0
