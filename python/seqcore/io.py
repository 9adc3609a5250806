"""Model file: the coreset and any other tensors plus JSON metadata in one safetensors file,
readable without Python by the C++ library (cpp/include/seqcore/model_file.hpp).

Importing this module does not load the compiled core; ``ModelFileError`` lives in
``seqcore.errors`` and the C++ reader raises that very class, so both readers raise the same one.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
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
    without a memory bank) and JSON-serializable metadata to one safetensors file, atomically: a
    reader sees the old file or the new one, never a mix; on any failure (full disk, unwritable
    folder) an OSError names the path and the old file is left as it was."""
    from safetensors.numpy import save

    arrays = _checked_tensors(tensors, coreset)
    try:
        text = json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-serializable: {exc}") from exc
    data = save(arrays, metadata={"format": FORMAT, "format_version": FORMAT_VERSION, "seqcore": text})
    write_atomically(Path(path), _with_sorted_header_metadata(data))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a fresh temporary file in ``path``'s folder, fsync it, rename it over ``path``
    (atomic on POSIX and Windows), fsync the folder; concurrent writers each rename a complete file."""
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write model file {path}: {exc.strerror or exc}", str(path)) from exc
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make models unreadable to other users
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, f"cannot write model file {path}: {exc.strerror or exc}", str(path)) from exc
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; folders cannot be opened for fsync on every platform (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _with_sorted_header_metadata(data: bytes) -> bytes:
    """The file with its header's ``__metadata__`` in sorted key order, at the same length:
    safetensors writes that map in hash order, which would make equal models differ byte-wise."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > size:
        return data
    return data[:8] + text.ljust(size, b" ") + data[8 + size:]


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
