"""ONNX export of the feature extractor exactly as ``predict`` runs it, plus the exported model file.

The graph takes the image after sizing and mirror padding (1, 3, H, W) float32 RGB in [0, 1],
H and W multiples of the coarsest stride, and returns one feature map (1, d, H/8, W/8) per bank
(pool kernel), all from one backbone pass: normalisation, backbone levels, pooling, bilinear
upsampling of the coarser levels, concatenation and projection. The geometry that depends on the
image size (resizing, mirror border, alignment padding, tiling, cropping) stays with the caller,
because OpenCV's DNN importer needs shapes that do not flow through Shape ops.

Opset 13 (``OPSET``): read by OpenCV DNN 4.6 and every ONNX Runtime since 1.6.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OPSET = 13
EXPORT_FILES = ("extractor.onnx", "model.safetensors")  # what ``export_model`` writes into its directory
EXPORT_VERSION = 1  # layout of the "export" metadata the C++ inspector reads


def _same_pad(size: tuple[int, int], conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """timm's pad_same (TensorFlow SAME) for an input of ``size``: (left, right, top, bottom)."""
    pads = []
    for x, k, st, d in zip(size, conv.kernel_size, conv.stride, conv.dilation, strict=True):
        pads.append(max((math.ceil(x / st) - 1) * st + (k - 1) * d + 1 - x, 0))
    ph, pw = pads
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def static_same_padding(backbone: nn.Module, align: int) -> nn.Module:
    """A copy of ``backbone`` whose SAME convolutions (timm Conv2dSame: padding from the input's
    shape at run time, Shape ops OpenCV cannot import) pad by constants. For inputs that are
    multiples of ``align`` those constants do not depend on the size; checked on two sizes."""
    model = copy.deepcopy(backbone)
    same = {name: m for name, m in model.named_modules() if type(m).__name__ == "Conv2dSame"}
    seen: dict[str, list[tuple[int, int, int, int]]] = {name: [] for name in same}
    hooks = [m.register_forward_pre_hook(lambda _m, inp, name=name: seen[name].append(_same_pad(inp[0].shape[2:], _m)))
             for name, m in same.items()]
    with torch.no_grad():
        for side in (4 * align, 5 * align):
            model(torch.zeros(1, 3, side, side + align))
    for h in hooks:
        h.remove()
    _replace_relu6(model)
    for name, conv in same.items():
        if len(set(seen[name])) > 1:
            raise ValueError(f"layer {name}: SAME padding depends on the input size; cannot export a static graph")
        plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
                          conv.groups, conv.bias is not None)
        plain.load_state_dict(conv.state_dict())
        replacement = nn.Sequential(nn.ZeroPad2d(seen[name][0]), plain) if seen[name] else plain
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, replacement)
    return model


class _Relu6(nn.Module):
    """ReLU6 as relu(x) - relu(x - 6): exact up to 12, one rounding above; OpenCV 4.6 imports
    Clip only in its pre-opset-11 form, which an opset-13 file cannot hold."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) - F.relu(x - 6.0)


def _replace_relu6(model: nn.Module) -> None:
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.ReLU6):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, _Relu6())


class _ExportedExtractor(nn.Module):
    """FeatureExtractor.forward_kernels after padding, written with static-shape ops only."""

    def __init__(self, extractor: Any, kernels: Sequence[int]) -> None:
        super().__init__()
        backbone = static_same_padding(extractor.backbone, int(extractor._align))
        self.backbone = backbone.to(memory_format=torch.contiguous_format)
        self.register_buffer("mean", extractor._mean.detach().cpu().clone())
        self.register_buffer("std", extractor._std.detach().cpu().clone())
        proj = extractor.projection
        self.register_buffer("projection", None if proj is None else torch.from_numpy(np.ascontiguousarray(proj)))
        self.kernels = tuple(int(k) for k in kernels)
        self.count_pad = bool(extractor.config.pool_count_pad)
        self.reductions = [int(r) for r in extractor.backbone.feature_info.reduction()]

    def _pool(self, level: torch.Tensor, k: int) -> torch.Tensor:
        if k == 1:
            return level
        out = F.avg_pool2d(level, k, stride=1, padding=k // 2, count_include_pad=self.count_pad)
        return out if k % 2 else out[:, :, :-1, :-1]  # even kernels give one extra row/column

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = self.backbone((image - self.mean) / self.std)
        outs = []
        for k in self.kernels:
            pooled = [self._pool(level, k) for level in levels]
            # H, W are multiples of the coarsest stride, so each level is exactly factor× the finest
            parts = [pooled[0]] + [
                F.interpolate(p, scale_factor=float(r // self.reductions[0]), mode="bilinear", align_corners=False)
                for p, r in zip(pooled[1:], self.reductions[1:], strict=True)
            ]
            features = torch.cat(parts, dim=1)
            if self.projection is not None:  # (1, c, h, w) x (c, p) as a 1x1 convolution
                features = F.conv2d(features, self.projection.t()[:, :, None, None])
            outs.append(features)
        return tuple(outs)


def extractor_graph(model: Any) -> nn.Module:
    """The torch module that is exported (for tests: its output equals ``forward_kernels``)."""
    return _ExportedExtractor(model.extractor, model.scales).eval()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _export_onnx(graph: nn.Module, path: Path, align: int, banks: int) -> None:
    """Trace at one aligned size with dynamic H, W; check the file with onnx.checker."""
    import onnx

    probe = torch.rand(1, 3, 4 * align, 4 * align)
    names = [f"features_{i}" for i in range(banks)]
    axes = {"image": {2: "height", 3: "width"}} | {n: {2: "grid_h", 3: "grid_w"} for n in names}
    with torch.no_grad():
        torch.onnx.export(graph, (probe,), str(path), input_names=["image"], output_names=names,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    _fold_constants(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def _fold_constants(path: Path) -> None:
    """Fold the constant subgraphs torch writes for padding amounts (OpenCV's importer rejects
    them) with ONNX Runtime's basic level: standard ONNX ops only, no fused kernels."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    folded = path.with_name(path.name + ".folded")
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    folded.replace(path)


def export_metadata(model: Any, onnx_hash: str) -> dict[str, Any]:
    """What the C++ inspector needs beyond the tensors: geometry, scoring, threshold, ONNX hash."""
    ex = model.extractor
    cfg = model.config
    return {
        "version": EXPORT_VERSION,
        "onnx_file": EXPORT_FILES[0],
        "onnx_sha256": onnx_hash,
        "opset": OPSET,
        "stride": ex.stride,
        "align": ex._align,
        "dim": ex.dim,
        "scales": list(model.scales),
        "nominal_scales": model.nominal_scales,
        "image_score": model.image_score,
        "blur_sigma": model.blur_sigma,
        "threshold": model.threshold,
        "resize_short_side": cfg.resize_short_side,
        "resize_shape": None if cfg.resize_shape is None else list(cfg.resize_shape),
        "border_pad": cfg.border_pad,
        "tile_size": cfg.tile_size,
        "tile_overlap": cfg.tile_overlap,
    }


def export_model(model: Any, out_dir: str | Path) -> Path:
    """Write ``extractor.onnx`` and ``model.safetensors`` (banks, support sets, metadata with the
    ONNX hash) into ``out_dir``; returns the directory. Needs the optional extra ``seqcore[export]``."""
    from seqcore.io import save_model

    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ImportError("export needs the optional extra: pip install 'seqcore[export]'") from exc
    model._require_fitted()
    if model.min_patch_brightness is not None:
        raise ValueError("export does not support min_patch_brightness yet")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / EXPORT_FILES[0]
    _export_onnx(extractor_graph(model), onnx_path, model.extractor._align, len(model.scales))
    points, support = model._primary_support()
    tensors = {"coreset": model.banks[0].points.astype(np.float32)}
    for index, bank in enumerate(model.banks[1:], start=1):
        tensors[f"coreset_{index}"] = bank.points.astype(np.float32)
    tensors["support"] = np.ascontiguousarray(support, np.int64)
    meta = model.metadata()
    meta["export"] = export_metadata(model, _sha256(onnx_path))
    save_model(out / EXPORT_FILES[1], tensors, meta)
    (out / "manifest.json").write_text(json.dumps(meta["export"], indent=2) + "\n")
    return out
