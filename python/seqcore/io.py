"""Model file: the coreset and any other tensors plus JSON metadata in one safetensors file,
readable without Python by the C++ library (cpp/include/seqcore/model_file.hpp).

Importing this module does not load the compiled core; ``ModelFileError`` lives in
``seqcore.errors`` and the C++ reader raises that very class, so both readers raise the same one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from seqcore.errors import ModelFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

FORMAT = "seqcore.model"  # must match kModelFormat in model_file.hpp
FORMAT_VERSION = "1"      # must match kModelFormatVersion


def _checked_tensors(tensors: dict[str, np.ndarray], coreset: bool = True) -> dict[str, np.ndarray]:
    """Contiguous copies-if-needed; "coreset" (required unless ``coreset=False``) must be a finite
    (n, d) float array (stored F32)."""
    if coreset and "coreset" not in tensors:
        raise ValueError("tensors must include 'coreset'")
    out = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        out[name] = np.ascontiguousarray(value)
    if "coreset" not in out:
        return out
    coreset = out["coreset"]
    if coreset.dtype.kind != "f" or coreset.ndim != 2:
        raise ValueError(f"'coreset' must be a 2-D float array, got dtype {coreset.dtype} shape {coreset.shape}")
    out["coreset"] = np.ascontiguousarray(coreset, dtype=np.float32)
    if not np.isfinite(out["coreset"]).all():
        raise ValueError("'coreset' contains NaN or inf")
    return out


def save_model(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict, coreset: bool = True) -> None:
    """Writes tensors (must include "coreset" (n, d) float32 unless ``coreset=False``, for methods
    without a memory bank) and JSON-serializable metadata to one safetensors file, atomically
    (temporary file, then rename)."""
    from safetensors.numpy import save_file

    arrays = _checked_tensors(tensors, coreset)
    try:
        text = json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-serializable: {exc}") from exc
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(arrays, str(tmp), metadata={"format": FORMAT, "format_version": FORMAT_VERSION, "seqcore": text})
    _sort_header_metadata(tmp)
    os.replace(tmp, path)


def _sort_header_metadata(path: Path) -> None:
    """Rewrite the header's ``__metadata__`` in sorted key order, in place and at the same length:
    safetensors writes that map in hash order, which would make equal models differ byte-wise."""
    with path.open("r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= size:
            f.seek(8)
            f.write(text.ljust(size, b" "))


def load_model(path: str | os.PathLike, coreset: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """Reads (tensors, metadata) written by save_model; ModelFileError on any bad file (and, unless
    ``coreset=False``, on a file without a 2-D float32 "coreset")."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path}: not found")
    try:
        with safe_open(str(path), framework="np") as f:
            header = f.metadata() or {}
            if header.get("format") != FORMAT:
                raise ModelFileError(f"model file {path}: foreign file (not a seqcore model)")
            if header.get("format_version") != FORMAT_VERSION:
                raise ModelFileError(
                    f"model file {path}: unsupported format version {header.get('format_version')!r} "
                    f"(expected {FORMAT_VERSION!r})"
                )
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"model file {path}: truncated or not a safetensors file ({exc})") from exc
    points = tensors.get("coreset")
    if coreset and (points is None or points.dtype != np.float32 or points.ndim != 2):
        raise ModelFileError(f"model file {path}: no 2-D float32 tensor 'coreset'")
    try:
        metadata = json.loads(header.get("seqcore", "{}"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"model file {path}: metadata is not valid JSON ({type(exc).__name__}: {exc})") from exc
    return tensors, metadata
