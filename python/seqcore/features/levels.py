"""Feature levels (channels, stride) of the supported backbones, known without building them.

Model files name backbone levels by index; the loader checks them against this table before any
backbone is built, so a bad index is a ModelFileError naming the field, never an IndexError from
inside timm. Backbones not in the table are asked on torch's ``meta`` device (no weights, no memory).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Level:
    """One ``features_only`` output: its channel count and its stride in input pixels."""

    channels: int
    stride: int


def _levels(channels: tuple[int, ...]) -> tuple[Level, ...]:
    return tuple(Level(c, 2 ** (i + 1)) for i, c in enumerate(channels))


# timm 1.x feature_info of the backbones seqcore trains with (checked by tests/features/test_levels.py)
KNOWN_LEVELS: dict[str, tuple[Level, ...]] = {
    "tf_efficientnet_lite0": _levels((16, 24, 40, 112, 320)),
    "tf_efficientnet_lite1": _levels((16, 24, 40, 112, 320)),
    "tf_efficientnet_lite2": _levels((16, 24, 48, 120, 352)),
    "resnet18": _levels((64, 64, 128, 256, 512)),
    "resnet50": _levels((64, 256, 512, 1024, 2048)),
    "wide_resnet50_2": _levels((64, 256, 512, 1024, 2048)),
}


@lru_cache(maxsize=16)
def backbone_levels(name: str) -> tuple[Level, ...]:
    """The levels of timm backbone ``name``; ValueError if timm does not know it or cannot say."""
    if name in KNOWN_LEVELS:
        return KNOWN_LEVELS[name]
    import timm
    import torch

    if name not in timm.list_models():
        raise ValueError(f"unknown timm backbone {name!r}")
    try:
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False, features_only=True)
        info = model.feature_info
        return tuple(Level(int(c), int(r)) for c, r in zip(info.channels(), info.reduction(), strict=True))
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign model is "not usable"
        raise ValueError(f"backbone {name!r} has no usable feature levels ({type(exc).__name__}: {exc})") from exc


def selected_levels(name: str, out_indices: tuple[int, ...]) -> tuple[Level, ...]:
    """The levels ``out_indices`` picks; ValueError naming the bad index (range, repeats)."""
    levels = backbone_levels(name)
    if len(set(out_indices)) != len(out_indices):
        raise ValueError(f"out_indices {list(out_indices)} repeat a level")
    for index in out_indices:
        if not 0 <= index < len(levels):
            raise ValueError(
                f"out_indices {list(out_indices)}: backbone {name} has levels 0..{len(levels) - 1}, not {index}"
            )
    return tuple(levels[i] for i in out_indices)
