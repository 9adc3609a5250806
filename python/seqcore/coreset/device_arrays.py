"""Zero-copy access to GPU arrays (torch CUDA tensors, CuPy arrays, anything exposing
``__cuda_array_interface__``) for the CUDA backend: pointer, shape and device, no host copy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeviceRows:
    """A C-contiguous float32 (rows, dim) matrix in GPU memory; `owner` keeps it alive."""

    ptr: int
    rows: int
    dim: int
    device: int
    owner: Any


def is_device_array(x: Any) -> bool:
    """True when x lives in GPU memory (exposes ``__cuda_array_interface__``)."""
    try:
        return getattr(x, "__cuda_array_interface__", None) is not None
    except Exception:  # some frameworks raise other errors for host tensors
        return False


def _float32_contiguous(x: Any) -> Any:
    """Same data as a C-contiguous float32 array on the same device (a copy only if needed)."""
    if hasattr(x, "contiguous") and hasattr(x, "float"):  # torch
        return x.float().contiguous()
    import cupy  # noqa: PLC0415 - only reached for CuPy-like arrays

    return cupy.ascontiguousarray(x, dtype=cupy.float32)


def _device_index(x: Any) -> int:
    if hasattr(x, "get_device"):  # torch
        return int(x.get_device())
    device = getattr(x, "device", None)
    return int(getattr(device, "id", 0))


def _wait_for_producer(x: Any, device: int) -> None:
    """Orders our default-stream kernels after pending work of the array's current stream."""
    if hasattr(x, "get_device"):
        import torch  # noqa: PLC0415

        torch.cuda.current_stream(device).synchronize()
        return
    try:
        import cupy  # noqa: PLC0415
    except ImportError:
        return
    with cupy.cuda.Device(device):
        cupy.cuda.get_current_stream().synchronize()


def device_rows(x: Any, dim: int | None, name: str, ndim: int = 2) -> DeviceRows:
    """Validates a GPU float array of rank `ndim` (last axis `dim`) as float32 rows.

    Integer/bool arrays, a wrong rank or dimension raise ValueError; NaN/inf are checked on
    the device by the CUDA backend.
    """
    iface = x.__cuda_array_interface__
    kind = iface["typestr"][1]
    if kind != "f":
        raise ValueError(f"{name} must be a float array, got typestr {iface['typestr']}")
    shape = tuple(iface["shape"])
    if len(shape) != ndim:
        expected = "(dim,)" if ndim == 1 else "(n, dim)"
        raise ValueError(f"{name} must have shape {expected}, got shape {shape}")
    if dim is not None and shape[-1] != dim:
        raise ValueError(f"{name} has dimension {shape[-1]}, expected {dim}")
    contiguous = iface.get("strides") is None
    if iface["typestr"] != "<f4" or not contiguous:
        x = _float32_contiguous(x)
        iface = x.__cuda_array_interface__
    rows = 1 if ndim == 1 else shape[0]
    device = _device_index(x)
    _wait_for_producer(x, device)
    return DeviceRows(ptr=int(iface["data"][0]), rows=int(rows), dim=int(shape[-1]), device=device, owner=x)
