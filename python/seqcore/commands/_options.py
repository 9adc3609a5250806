"""Command-line options shared by train, predict and evaluate: ``--dataset KIND ROOT --split S``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from seqcore.data.formats.synthetic import DEFAULT_VARIANT
from seqcore.data.open import DATASET_KINDS, SPLIT_KINDS


def add_dataset_arguments(parser: argparse.ArgumentParser, default_split: str) -> None:
    """``--dataset KIND ROOT``, ``--split`` and the options of the individual layouts."""
    group = parser.add_argument_group("dataset")
    group.add_argument("--dataset", nargs=2, metavar=("KIND", "ROOT"),
                       help=f"dataset layout and root; KIND is one of {', '.join(DATASET_KINDS)}")
    group.add_argument("--split", default=default_split,
                       help=f"split of {', '.join(SPLIT_KINDS)} datasets (default {default_split})")
    group.add_argument("--category", help="MVTec AD category under ROOT (default: ROOT is the category folder)")
    group.add_argument("--variant", default=DEFAULT_VARIANT,
                       help=f"synthetic variant folder (default {DEFAULT_VARIANT}, as `seqcore synth` writes it)")
    group.add_argument("--images", type=Path, help="images of a masks dataset (<name>.<ext>)")
    group.add_argument("--class-name", default="defect", help="class of a masks dataset")
    group.add_argument("--label-map", type=Path, help='LabelMe: JSON {"LabelMe label": "class name"}')
    group.add_argument("--defects", help="LabelMe: comma-separated defect classes "
                                         "(default: every mapped class not in --impurities)")
    group.add_argument("--impurities", default="", help="LabelMe: comma-separated impurity classes")
    group.add_argument("--board-rois", type=Path, metavar="DIR",
                       help="folder of per-image board annotation JSON (borders = active area, labels = "
                            "exclusion boxes; seqcore.data.board_rois): the region of interest everywhere")
    group.add_argument("--nlm", type=float, metavar="H",
                       help="non-local-means denoising of every image with strength H (pass it to train and predict)")
    group.add_argument("--on-error", choices=("skip", "raise"), default="skip",
                       help="unreadable images: report and skip (default) or stop")


def dataset_source(args: argparse.Namespace, positional: str | None = None) -> tuple[str, str]:
    """(kind, root) from ``--dataset KIND ROOT`` or, failing that, a positional folder of images."""
    if args.dataset is not None and positional is not None:
        raise ValueError(f"give either a folder of images ({positional}) or --dataset KIND ROOT, not both")
    if args.dataset is not None:
        kind, root = args.dataset
        if kind not in DATASET_KINDS:
            raise ValueError(f"unknown dataset kind {kind!r}; use one of {', '.join(DATASET_KINDS)}")
        return kind, root
    if positional is None:
        raise ValueError("no data: give a folder of images or --dataset KIND ROOT")
    return "folder", positional


def open_from_args(args: argparse.Namespace, kind: str, root: str, split: str | None = None):
    """The dataset the options describe, at ``split`` (default ``--split``)."""
    from seqcore.data import open_dataset

    label_map = json.loads(args.label_map.read_text()) if args.label_map is not None else None
    impurities = [c for c in args.impurities.split(",") if c]
    defects = [c for c in args.defects.split(",") if c] if args.defects else None
    data = open_dataset(kind, root, split or args.split, category=args.category, variant=args.variant,
                        images=args.images, class_name=args.class_name, label_map=label_map, defects=defects,
                        impurities=impurities, on_error=args.on_error)
    if getattr(args, "board_rois", None) is not None:
        from seqcore.data.board_rois import BoardROIDataset

        data = BoardROIDataset(data, args.board_rois)
    if getattr(args, "nlm", None) is not None:
        from seqcore.data.denoise import DenoisedDataset

        data = DenoisedDataset(data, args.nlm)
    return data
