"""Robust image reading, the one place image and mask files are decoded.

Every failure becomes an :class:`ImageReadError` naming the file (an :class:`ImageNotFoundError`
when it does not exist), so callers report bad files instead of crashing on ``None`` or noise.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_MASK_MODES = {"1": "L", "LA": "L", "La": "L", "P": "RGB", "PA": "RGB"}  # expanded as a viewer shows them


class ImageReadError(ValueError):
    """An image file is missing, corrupt, truncated or in an unsupported format."""

    def __init__(self, path: str | Path, reason: str, what: str = "image") -> None:
        super().__init__(f"cannot read {what} {path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class ImageNotFoundError(ImageReadError, FileNotFoundError):
    """The file does not exist; also a FileNotFoundError so either kind of handler catches it."""

    def __init__(self, path: str | Path, what: str = "image") -> None:
        super().__init__(path, "file not found", what)


@contextmanager
def _opened(path: Path, what: str) -> Iterator[Image.Image]:
    """The lazily opened file; decoding failures inside the block become an ImageReadError."""
    if not path.is_file():
        raise ImageNotFoundError(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                yield img
    except ImageReadError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        detail = str(exc) or type(exc).__name__
        raise ImageReadError(path, f"corrupt or unsupported file, cannot decode it ({detail})", what) from exc


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
    with _opened(path, "image") as img:
        return _pixels(img, mode, path)


def decode_image(data: bytes, where: str | Path, mode: str = "auto") -> np.ndarray:
    """Like ``read_image`` for an encoded image held in memory (LabelMe's embedded ``imageData``);
    ``where`` names it in errors."""
    if mode not in ("auto", "gray", "rgb"):
        raise ValueError(f"mode must be 'auto', 'gray' or 'rgb', got {mode!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return _pixels(img, mode, Path(where))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, ImageReadError):
            raise
        detail = str(exc) or type(exc).__name__
        raise ImageReadError(where, f"corrupt or unsupported embedded image ({detail})") from exc


def _pixels(img: Image.Image, mode: str, path: Path) -> np.ndarray:
    """Fully decoded uint8 pixels of an opened image in the requested mode."""
    img.load()
    if mode == "gray":
        img = img.convert("L") if img.mode not in ("L", "I;16", "I", "F") else img
    elif mode == "rgb" or img.mode not in ("L", "I;16", "I", "F", "RGB"):
        img = img.convert("RGB")
    array = np.asarray(img)
    try:
        array = _to_uint8(array)
    except ValueError as exc:
        raise ImageReadError(path, str(exc)) from exc
    if mode == "rgb" and array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


def read_mask(path: str | Path) -> np.ndarray:
    """A label/mask image as (H, W) keeping its integer values (8-bit, or 16-bit class*1000+instance).

    Bilevel and palette files are expanded as a viewer shows them; a colour file is accepted only
    when its colour channels agree, so a colour-coded label image is never cut to one channel.
    """
    path = Path(path)
    with _opened(path, "mask") as img:
        img.load()
        if img.mode in _MASK_MODES:
            img = img.convert(_MASK_MODES[img.mode])
        array = np.asarray(img)
    if array.ndim == 3:
        if not (array[..., :3] == array[..., :1]).all():
            raise ImageReadError(path, "its colour channels differ; expected a grey mask", "mask")
        array = array[..., 0]
    return np.ascontiguousarray(array)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) from the file header only: sizes empty annotations without decoding pixels."""
    with _opened(Path(path), "image") as img:
        width, height = img.size
    return height, width
