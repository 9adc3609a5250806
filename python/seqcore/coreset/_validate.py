"""Input checks shared by the coreset front ends: clear ValueErrors instead of crashes deep
inside the compiled core."""
from __future__ import annotations

import numbers

import numpy as np


def positive_int(value: object, name: str) -> int:
    """Returns value as int; ValueError unless it is an integer > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def as_points(array: object, dim: int | None, name: str, ndim: int = 2) -> np.ndarray:
    """Float array of rank `ndim` (last axis `dim`) as C-contiguous float32.

    Other float dtypes and non-contiguous arrays are converted; integer, bool, object and
    complex arrays, a wrong rank or dimension, and NaN/inf values raise ValueError.
    """
    a = np.asarray(array)
    if a.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array, got dtype {a.dtype}")
    if a.ndim != ndim:
        shape = "(dim,)" if ndim == 1 else "(n, dim)"
        raise ValueError(f"{name} must have shape {shape}, got shape {a.shape}")
    if dim is not None and a.shape[-1] != dim:
        raise ValueError(f"{name} has dimension {a.shape[-1]}, expected {dim}")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, rejected below
        a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf (after conversion to float32)")
    return a
