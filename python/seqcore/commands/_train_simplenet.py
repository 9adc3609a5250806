"""``seqcore train --method simplenet``: fit (or fine-tune with --init) SimpleNet on nominal images."""
from __future__ import annotations

import argparse

from seqcore.commands._options import open_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only SimpleNet reads (features, --epochs, --val, --init, --seed, --device are shared)."""
    group = parser.add_argument_group("SimpleNet (--method simplenet)")
    group.add_argument("--noise-std", type=float, default=0.1,
                       help="σ of the fake features' Gaussian noise, in standardised feature units (default 0.1)")
    group.add_argument("--patches-per-image", type=int, default=512,
                       help="training patches cached per image (default 512; 0: all)")
    group.add_argument("--simplenet-lr", type=float, default=2e-4, help="discriminator Adam rate (default 2e-4)")


def run(args: argparse.Namespace, kind: str, root: str) -> int:
    from seqcore.features import FeatureConfig
    from seqcore.models import calibrate
    from seqcore.models.patchcore.method import DEFAULT_SIGMAS
    from seqcore.models.simplenet import SimpleNet, SimpleNetConfig

    data = open_from_args(args, kind, root)
    if args.init:
        model = SimpleNet.load(args.init, device=args.device, bf16=args.bf16)
    else:
        features = FeatureConfig(
            backbone=args.backbone, resize_short_side=args.resize or None,
            resize_shape=tuple(args.size) if args.size else None, pool_kernel=args.pool_kernel,
            pool_count_pad=args.pool_count_pad == "yes", normalization=args.normalization, border_pad=args.border_pad,
            projection_dim=args.projection_dim, projection_seed=args.seed, tile_size=args.tile_size or None,
            tile_overlap=args.tile_overlap,
        )
        model = SimpleNet(features, noise_std=args.noise_std, blur_sigma=2.0 if args.blur_sigma is None
                          else args.blur_sigma, seed=args.seed, device=args.device, bf16=args.bf16)
    config = SimpleNetConfig(epochs=args.epochs, patches_per_image=args.patches_per_image or None,
                             discriminator_lr=args.simplenet_lr)
    report = model.fit(data, config, threads=getattr(args, "threads", None))
    print(f"fit: {report.images} image(s), {report.patches} patches, {len(report.losses)} epoch(s), "
          f"final loss {report.losses[-1]:.4f}, {report.seconds:.1f} s")
    if args.val:
        val = open_from_args(args, kind, root, args.val)
        sigmas = DEFAULT_SIGMAS if args.blur_sigma is None else None
        threshold = calibrate(model, val, sigmas=sigmas)
        print(f"blur σ {model.blur_sigma:g}, threshold (max pixel F1 on {args.val}): {threshold:.6g}")
    model.save(args.out)
    print(f"wrote {args.out}")
    return 0
