"""Robust image reading: every failure becomes an ImageReadError naming the file."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image file is missing, corrupt, truncated or in an unsupported format."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit/float/bool pixel data to uint8."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype in (np.uint16, np.int32, np.int16):
        return (np.clip(array, 0, 65535) / 257.0).round().astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    raise ValueError(f"unsupported pixel type {array.dtype}")


def read_image(path: str | Path, mode: str = "auto") -> np.ndarray:
    """Decode an image fully into uint8: ``gray`` (H, W), ``rgb`` (H, W, 3) or ``auto`` (as stored).

    Truncated files raise instead of returning a partially decoded image.
    """
    if mode not in ("auto", "gray", "rgb"):
        raise ValueError(f"mode must be 'auto', 'gray' or 'rgb', got {mode!r}")
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                if mode == "gray":
                    img = img.convert("L") if img.mode not in ("L", "I;16", "I", "F") else img
                elif mode == "rgb" or img.mode not in ("L", "I;16", "I", "F", "RGB"):
                    img = img.convert("RGB")
                array = np.asarray(img)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, str(exc) or type(exc).__name__) from exc
    try:
        array = _to_uint8(array)
    except ValueError as exc:
        raise ImageReadError(path, str(exc)) from exc
    if mode == "rgb" and array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a label/mask image keeping its integer values (8- or 16-bit), as (H, W)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    try:
        with Image.open(path) as img:
            img.load()
            array = np.asarray(img)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, str(exc) or type(exc).__name__) from exc
    if array.ndim == 3:
        array = array[:, :, 0]
    return np.ascontiguousarray(array)
