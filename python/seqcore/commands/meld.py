"""``seqcore meld``: combine trained models into one coreset without feature extraction (docs/design.md §2)."""
from __future__ import annotations

import argparse

NAME = "meld"
HELP = "meld model files (base first) into one model of the given capacity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", help="model files; the first is the base")
    parser.add_argument("--out", required=True, help="melded model file to write")
    parser.add_argument("--capacity", type=int, help="capacity of the result (default: the base's)")


def run(args: argparse.Namespace) -> int:
    from seqcore.models.patchcore import SequentialPatchCore

    models = [SequentialPatchCore.load(path) for path in args.models]
    melded = SequentialPatchCore.meld(models, capacity=args.capacity)
    melded.save(args.out)
    print(f"melded {len(models)} model(s) into {args.out}: coreset {melded.coreset.size}/{melded.capacity}")
    return 0
