"""``seqcore synth``: write a dual synthetic dataset (clean / water-stained, light variants)."""
from __future__ import annotations

import argparse
import json

NAME = "synth"
HELP = "write a dual synthetic dataset (with/without water stains, docs/design.md §7 light variants)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", help="output folder (OUT/<variant>/<split>/...)")
    parser.add_argument("--train", type=int, default=60, help="nominal training images")
    parser.add_argument("--val", type=int, default=20, help="validation images")
    parser.add_argument("--test", type=int, default=40, help="test images")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--pitch", type=float, default=0.06, help="pixel pitch in mm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defective-fraction", type=float, default=0.75,
                        help="share of val/test images with defects")
    parser.add_argument("--max-defects", type=int, default=2, help="defects per defective image")
    parser.add_argument("--fingerprints", type=float, default=0.0, metavar="P",
                        help="probability of a fingerprint per image (both variants)")
    parser.add_argument("--stickers", type=float, default=0.0, metavar="P",
                        help="probability of a sticker per image (both variants)")
    parser.add_argument("--no-light-variants", action="store_true",
                        help="skip the rotated-90° and scaled-2x ring-light variants")
    parser.add_argument("--overwrite", action="store_true", help="write into non-empty variant folders")
    parser.add_argument("--contact-sheet", metavar="PNG",
                        help="also (or only, without OUT) write a contact sheet of the generator")


def run(args: argparse.Namespace) -> int:
    from seqcore.synth.contact_sheet import make_contact_sheet
    from seqcore.synth.dataset import DatasetConfig, write_dual_dataset

    if args.out is None and args.contact_sheet is None:
        raise ValueError("give an output folder OUT, --contact-sheet PNG, or both")
    if args.out is not None:
        config = DatasetConfig(
            n_train=args.train, n_val=args.val, n_test=args.test, height=args.size[0],
            width=args.size[1], pixel_pitch_mm=args.pitch, seed=args.seed,
            light_variants=not args.no_light_variants, defective_fraction=args.defective_fraction,
            max_defects=args.max_defects, fingerprint_probability=args.fingerprints,
            sticker_probability=args.stickers,
        )
        summary = write_dual_dataset(args.out, config, overwrite=args.overwrite)
        print(json.dumps({v: summary["counts"][v] for v in summary["variants"][:2]}, indent=1))
        print(f"wrote variants {', '.join(summary['variants'])} to {args.out}")
    if args.contact_sheet is not None:
        print(f"wrote {make_contact_sheet(args.contact_sheet)}")
    return 0
