"""The three segmentation networks on one encoder: U-Net and DeepLabV3+ from smp, and an FCN-8s head.

All produce one logit per input pixel (binary defect segmentation); the input height and width
must be multiples of 32 (``predict`` pads). Output strides, i.e. the coarsest resolution the
decoder resolves before its final upsampling:

- ``unet``: smp ``Unet``, decoder back to stride 1 (full resolution), skip connections at 2/4/8/16.
- ``deeplab``: smp ``DeepLabV3Plus``, encoder output stride 16 (dilated last stage), ASPP,
  fused with the stride-4 level, bilinear ×4 to the input.
- ``fcn``: smp has no FCN, so a small FCN-8s head (Long et al.) written here: 1×1 class scores
  of the stride-8, 16 and 32 levels, summed coarse to fine, bilinear ×8 to the input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqcore.models.supervised.encoders import load_imagenet_weights, timm_name

ARCHS = ("unet", "fcn", "deeplab")


class FCN8s(nn.Module):
    """FCN-8s on an smp encoder: per-level 1×1 scores at strides 8/16/32, summed after upsampling."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        channels = encoder.out_channels[-3:]
        self.scores = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1) for c in channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = self.encoder(x)[-3:]
        out = self.scores[-1](levels[-1])
        for level, score in zip(levels[-2::-1], list(self.scores)[-2::-1], strict=True):
            out = F.interpolate(out, size=level.shape[-2:], mode="bilinear", align_corners=False) + score(level)
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


def build_network(arch: str, encoder: str = "lite0", pretrained: bool = True) -> nn.Module:
    """A 3-channel-in, 1-logit-out network; ``pretrained`` fills the encoder with the offline ImageNet weights."""
    import segmentation_models_pytorch as smp

    name = f"tu-{timm_name(encoder)}"
    if arch == "unet":
        net = smp.Unet(name, encoder_weights=None, in_channels=3, classes=1)
    elif arch == "deeplab":
        net = smp.DeepLabV3Plus(name, encoder_weights=None, in_channels=3, classes=1, encoder_output_stride=16)
    elif arch == "fcn":
        net = FCN8s(smp.encoders.get_encoder(name, in_channels=3, depth=5, weights=None))
    else:
        raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
    if pretrained:
        load_imagenet_weights(net.encoder, encoder)
    return net
