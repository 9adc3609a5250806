"""``seqcore train``: fit (or fine-tune with --init) a model on nominal images, optionally calibrate."""
from __future__ import annotations

import argparse
import os
import sys

from seqcore.commands import _train_cutpaste as train_cutpaste
from seqcore.commands import _train_simplenet as train_simplenet
from seqcore.commands import _train_supervised as train_supervised
from seqcore.commands._options import add_dataset_arguments, dataset_source, open_from_args
from seqcore.data.open import SPLIT_KINDS
from seqcore.features.config import NORMALIZATIONS
from seqcore.models.patchcore.feature_cache import DEFAULT_CACHE_BYTES
from seqcore.models.patchcore.scoring import IMAGE_SCORES
from seqcore.models.patchcore.strategies import DEFAULT_STOP_FRACTION
from seqcore.models.schema import MAX_SIZE

# options a resume may change (the pixel size is stored, it does not change the fit)
CHECKPOINT_IGNORED = ("out", "checkpoint", "checkpoint_every", "resume", "cache_gb", "pixel_size")

NAME = "train"
HELP = "train a SequentialPatchCore model on nominal images (fine-tune with --init)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="?", help="a folder of training images (or use --dataset KIND ROOT)")
    parser.add_argument("--out", required=True, help="model file to write (.safetensors)")
    parser.add_argument("--init", help="model file to fine-tune instead of starting empty")
    add_dataset_arguments(parser, "train")
    parser.add_argument("--capacity", type=int, help="coreset size K (default 2048; fixed by --init)")
    parser.add_argument("--capacity-fraction", type=float, metavar="F",
                        help="coreset size as this fraction of the training patches instead of --capacity, e.g. 0.01")
    parser.add_argument("--epochs", type=int, default=5, help="maximum epochs (default 5)")
    parser.add_argument("--method", default="sequential",
                        choices=("sequential", "greedy", *train_supervised.SUPERVISED_METHODS, "simplenet", "cutpaste"),
                        help="coreset strategy, a supervised segmenter trained on masks, simplenet or cutpaste")
    parser.add_argument("--backbone", default="tf_efficientnet_lite0", help="timm backbone name")
    parser.add_argument("--resize", type=int, default=256,
                        help="resize so the short side has this many pixels, aspect kept (default 256; 0: native size)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                        help="resize every image to this fixed size (overrides --resize), e.g. 256 256")
    parser.add_argument("--pool-kernel", type=int, default=3,
                        help="average pooling of the primary bank's features (default 3)")
    parser.add_argument("--scales", type=int, nargs="+", metavar="K",
                        help="pool kernels of the fused banks, the first = --pool-kernel "
                             "(default: --pool-kernel and 1, or just 1 when --pool-kernel is 1)")
    parser.add_argument("--pool-count-pad", choices=("yes", "no"), default="yes",
                        help="pooling counts the zero padding, as torch's AvgPool2d (default yes)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, default="imagenet",
                        help="input mean/std (default imagenet)")
    parser.add_argument("--border-pad", type=int, default=0,
                        help="mirror this many pixels around each image before the backbone (default 0)")
    parser.add_argument("--image-score", choices=IMAGE_SCORES, default="nn",
                        help="image score: nn (PatchCore's reweighted worst patch, default) or max (map maximum)")
    parser.add_argument("--projection-dim", type=int, help="random projection of the features")
    parser.add_argument("--blur-sigma", type=float,
                        help="blur σ of the maps (default: chosen on --val from 2, 4, 6, 8, else 2)")
    parser.add_argument("--tile-size", type=int, default=1024,
                        help="process larger images in overlapping tiles of this size (0: never tile)")
    parser.add_argument("--tile-overlap", type=int, default=128)
    parser.add_argument("--min-brightness", type=float, help="skip patches darker than this (0..1), e.g. 0.12")
    parser.add_argument("--augment", choices=("none", "da", "dr"), default="none",
                        help="docs/design.md §7 augmentation (da) or domain randomization (dr)")
    parser.add_argument("--val", help="split of the same dataset whose pixel-F1 maximum sets the threshold")
    parser.add_argument("--threshold-rule", default="f1",
                        help="how --val sets the threshold: f1, recall-at-false-calls:R, impurity-cap:C, "
                             "nominal-quantile:Q[:image] (see README, threshold rules)")
    parser.add_argument("--pixel-size", type=float, metavar="MM",
                        help="mm per pixel of the images, stored in the model: predict/evaluate give areas in mm²")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] for the backbone")
    parser.add_argument("--bf16", action="store_true", help="run the backbone in bfloat16")
    fit = parser.add_argument_group("fit pipeline (docs/design.md §17)")
    fit.add_argument("--stop-fraction", type=float, default=DEFAULT_STOP_FRACTION,
                     help=f"stop after an epoch replacing at most this fraction of K (default {DEFAULT_STOP_FRACTION}; "
                          "0: only after an epoch without replacements)")
    fit.add_argument("--cache-gb", type=float, default=DEFAULT_CACHE_BYTES / 2**30,
                     help=f"on-disk feature cache cap in GiB (default {DEFAULT_CACHE_BYTES / 2**30:g}; "
                          "0: extract every epoch)")
    fit.add_argument("--checkpoint", metavar="DIR", help="write resumable checkpoints of the fit to DIR")
    fit.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                     help="checkpoint every N images (and after every epoch; default 100)")
    fit.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --checkpoint DIR")
    train_supervised.add_arguments(parser)
    train_simplenet.add_arguments(parser)
    train_cutpaste.add_arguments(parser)
    parser.add_argument("--distributed", choices=("ray",), help="shard the fit over Ray tasks, meld the shard models")
    parser.add_argument("--address", help="with --distributed: a running Ray cluster (default: a local one)")
    parser.add_argument("--workers", type=int, default=2, help="with --distributed: shards, one Ray task each")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: no spinning OpenMP threads
    from seqcore.data.augment import default_augmentation, domain_randomization
    from seqcore.features import FeatureConfig
    from seqcore.metrics.operating import ThresholdRule
    from seqcore.models import calibrate
    from seqcore.models.patchcore import SequentialPatchCore, strategy_named
    from seqcore.models.patchcore.method import DEFAULT_SIGMAS

    kind, root = dataset_source(args, args.data)
    patchcore = args.method in ("sequential", "greedy")
    if args.pixel_size is not None and (not patchcore or not 0 < args.pixel_size <= MAX_SIZE):
        raise ValueError("--pixel-size is a positive number of mm per pixel, stored by PatchCore models "
                         f"(--method sequential|greedy); got {args.pixel_size} with --method {args.method}")
    if args.method in train_supervised.SUPERVISED_METHODS:
        return train_supervised.run(args, kind, root)
    if args.method == "simplenet":
        return train_simplenet.run(args, kind, root)
    if args.method == "cutpaste":
        return train_cutpaste.run(args, kind, root)
    if args.val and kind not in SPLIT_KINDS:
        raise ValueError(f"--val needs a dataset with splits (--dataset {'|'.join(SPLIT_KINDS)} ROOT)")
    ThresholdRule.parse(args.threshold_rule)  # a bad rule fails before the fit, not after
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint DIR")
    data = open_from_args(args, kind, root)
    checkpoint, fitted = None, None
    if args.checkpoint:
        from seqcore.models.patchcore.checkpoint import FitCheckpoint

        settings = {k: v if isinstance(v, (int, float, str, list, type(None))) else str(v)
                    for k, v in sorted(vars(args).items()) if k not in CHECKPOINT_IGNORED and not callable(v)}
        checkpoint = FitCheckpoint(args.checkpoint, args.checkpoint_every, settings, data, resume=args.resume)
        fitted = checkpoint.load_fitted(lambda path: SequentialPatchCore.load(path, device=args.device, bf16=args.bf16))
    if args.init:
        model = SequentialPatchCore.load(args.init, device=args.device, bf16=args.bf16)
        if args.capacity is not None and args.capacity != model.capacity:
            raise ValueError(f"--capacity {args.capacity} differs from the capacity {model.capacity} of {args.init}")
        if model.strategy.name == "sequential":
            model.strategy = strategy_named("sequential", stop_fraction=args.stop_fraction)
    else:
        features = FeatureConfig(
            backbone=args.backbone, resize_short_side=args.resize or None,
            resize_shape=tuple(args.size) if args.size else None, pool_kernel=args.pool_kernel,
            pool_count_pad=args.pool_count_pad == "yes", normalization=args.normalization, border_pad=args.border_pad,
            projection_dim=args.projection_dim, projection_seed=args.seed, tile_size=args.tile_size or None,
            tile_overlap=args.tile_overlap,
        )
        capacity = args.capacity or 2048
        if args.capacity_fraction is not None:
            if args.capacity is not None:
                raise ValueError("give --capacity or --capacity-fraction, not both")
            from seqcore.features import FeatureExtractor
            from seqcore.models.patchcore.capacity import capacity_from_fraction, patch_count

            stride = FeatureExtractor(features).stride
            capacity = capacity_from_fraction(args.capacity_fraction, patch_count(data, features, stride))
            print(f"coreset capacity {capacity} ({args.capacity_fraction:g} of the training patches)")
        model = SequentialPatchCore(
            features, capacity=capacity, scales=args.scales,
            strategy=strategy_named(args.method, stop_fraction=args.stop_fraction),
            image_score=args.image_score, blur_sigma=2.0 if args.blur_sigma is None else args.blur_sigma,
            min_patch_brightness=args.min_brightness, device=args.device, bf16=args.bf16, seed=args.seed,
        )
    augment = {"none": None, "da": default_augmentation, "dr": domain_randomization}[args.augment]
    augment = augment(args.seed) if augment else None
    if args.distributed:
        if args.init or args.checkpoint:
            raise ValueError("--distributed trains from scratch without checkpoints; fine-tune the result with --init")
        from seqcore.distributed import fit_distributed

        model, dist = fit_distributed(data, model, epochs=args.epochs, workers=args.workers, address=args.address,
                                      augment=augment)
        print(f"fit: {len(dist.shards)} shard(s) on Ray, {dist.images} image(s), meld tree depth {dist.tree_depth}, "
              f"{dist.seconds:.1f} s, coreset {model.coreset.size}/{model.capacity}")
    elif fitted is not None:
        model = fitted
        print(f"resumed after the fit from {args.checkpoint}")
    else:
        if checkpoint is not None:
            checkpoint.rng = getattr(augment, "rng", None)
        report = model.fit(data, epochs=args.epochs, augment=augment, cache_bytes=int(args.cache_gb * 2**30),
                           checkpoint=checkpoint)
        print(f"fit: {report.epochs} epoch(s), replacements per epoch {report.replacements}, "
              f"{report.stop_reason}, {report.seconds:.1f} s, coreset {model.coreset.size}/{model.capacity}, "
              f"feature cache {report.cache_bytes / 2**20:.1f} MiB")
        if checkpoint is not None:
            checkpoint.save_fitted(model)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable image(s)", file=sys.stderr)
    if args.val:
        val = open_from_args(args, kind, root, args.val)
        sigmas = DEFAULT_SIGMAS if args.blur_sigma is None else None
        threshold = calibrate(model, val, sigmas=sigmas, rule=args.threshold_rule)
        chosen = f"blur σ {model.blur_sigma:g} ({'chosen' if sigmas else 'given'}), "
        print(f"{chosen}threshold ({model.threshold_rule} on {args.val}): {threshold:.6g}")
    if args.pixel_size is not None:
        model.pixel_size_mm = args.pixel_size
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0
