"""``seqcore export``: ONNX extractor + model file for the C++ inspector (docs/design.md §15)."""
from __future__ import annotations

import argparse

NAME = "export"
HELP = "export a model for the C++ inspector (ONNX extractor + model file) into a directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file written by seqcore train")
    parser.add_argument("--out", required=True, help="directory to write extractor.onnx and model.safetensors into")


def run(args: argparse.Namespace) -> int:
    from seqcore.models.patchcore import SequentialPatchCore

    out = SequentialPatchCore.load(args.model).export(args.out)
    print(f"exported {args.model} to {out} (extractor.onnx, model.safetensors, manifest.json)")
    return 0
