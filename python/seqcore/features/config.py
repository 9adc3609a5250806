"""Feature configuration: everything that decides the patch vectors, stored in model files."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqcore.features.backbones import DEFAULT_BACKBONE

NORMALIZATIONS = ("backbone", "imagenet")  # input mean/std choices (see FeatureConfig.normalization)


@dataclass(frozen=True)
class FeatureConfig:
    """Backbone, levels, pooling, resizing and projection; two models are compatible iff equal."""

    backbone: str = DEFAULT_BACKBONE
    out_indices: tuple[int, ...] = (2, 3)  # strides 8 and 16 for EfficientNet-Lite0
    pool_kernel: int = 3  # average pooling, stride 1, same padding (1 disables it)
    resize_short_side: int | None = 256  # resize images so the short side has this length (None: native)
    projection_dim: int | None = None  # random Gaussian projection to this dimension
    projection_seed: int = 0
    pretrained: bool = True
    tile_size: int | None = 1024  # larger images go in overlapping tiles (bounded memory); None: whole
    tile_overlap: int = 128  # pixels of context shared by neighbouring tiles
    resize_shape: tuple[int, int] | None = None  # fixed (height, width), overrides resize_short_side
    border_pad: int = 0  # mirror this many pixels around the image so border patches see image context
    normalization: str = "imagenet"  # input mean/std: "imagenet", or the backbone's pretrained config
    pool_count_pad: bool = True  # pooling counts the zero padding (torch AvgPool2d(k, 1, k//2), as anomalib)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_indices", tuple(int(i) for i in self.out_indices))
        if len(self.out_indices) < 1:
            raise ValueError("out_indices must name at least one backbone level")
        if self.pool_kernel < 1:
            raise ValueError(f"pool_kernel must be >= 1, got {self.pool_kernel}")
        if self.resize_short_side is not None and self.resize_short_side < 16:
            raise ValueError(f"resize_short_side must be >= 16, got {self.resize_short_side}")
        if self.resize_shape is not None:
            object.__setattr__(self, "resize_shape", tuple(int(v) for v in self.resize_shape))
            if len(self.resize_shape) != 2 or min(self.resize_shape) < 16:
                raise ValueError(f"resize_shape must be (height, width), each >= 16, got {self.resize_shape}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.border_pad < 0:
            raise ValueError(f"border_pad must be >= 0, got {self.border_pad}")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ValueError(f"projection_dim must be >= 1, got {self.projection_dim}")
        if self.tile_size is not None:
            if self.tile_size < 64 or self.tile_size % 16:
                raise ValueError(f"tile_size must be a multiple of 16 and >= 64, got {self.tile_size}")
            if self.tile_overlap < 0 or self.tile_overlap % 16 or 2 * self.tile_overlap >= self.tile_size:
                raise ValueError(
                    f"tile_overlap must be a multiple of 16 below tile_size/2, got {self.tile_overlap}"
                )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_indices"] = list(self.out_indices)
        if self.resize_shape is None:
            data.pop("resize_shape")  # files and keys of models without it stay as before
        else:
            data["resize_shape"] = list(self.resize_shape)
        if self.normalization == "backbone":
            data.pop("normalization")  # likewise for the normalisation and pooling of older files
        if not self.pool_count_pad:
            data.pop("pool_count_pad")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Read a stored config; keys absent from older files take the values those files implied."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("border_pad", 0)  # files written before border padding existed used none
        known.setdefault("normalization", "backbone")  # older files left the backbone's default out
        known.setdefault("pool_count_pad", False)  # older pooling averaged real cells only
        known.setdefault("resize_short_side", None)  # written by every version; None if ever missing
        return cls(**known)

    def compatibility_key(self) -> dict[str, Any]:
        """Fields that change the patch vectors, tiling included (small tiles shift border features).

        The overlap is left out of untiled configs, where it has no effect.
        """
        data = self.to_dict()
        if self.tile_size is None:
            data.pop("tile_overlap")
        return data
