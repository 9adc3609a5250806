"""Models as bytes (the model file's own safetensors format), so Ray moves them like any other object."""
from __future__ import annotations

import tempfile
from pathlib import Path

from seqcore.models.patchcore import SequentialPatchCore


def model_to_bytes(model: SequentialPatchCore) -> bytes:
    """The bytes ``model.save`` writes."""
    with tempfile.TemporaryDirectory(prefix="seqcore-") as folder:
        path = Path(folder) / "model.safetensors"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data: bytes, device: str = "cpu") -> SequentialPatchCore:
    """The model ``model_to_bytes`` encoded (its backbone on ``device``)."""
    with tempfile.TemporaryDirectory(prefix="seqcore-") as folder:
        path = Path(folder) / "model.safetensors"
        path.write_bytes(data)
        return SequentialPatchCore.load(path, device=device)
