"""ONNX export (issue 15): the exported graph, run by onnxruntime, gives the torch extractor's features."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.io import load_model

ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need the extra seqcore[export]")
onnx = pytest.importorskip("onnx", reason="ONNX export tests need the extra seqcore[export]")


def _surface(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip(120 + 30 * np.sin(xx / 3.0) + 20 * np.cos(yy / 4.0) + rng.normal(0, 3, (h, w)),
                   0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=[
    dict(scales=None, features=FeatureConfig(resize_short_side=None)),
    dict(scales=(2,), features=FeatureConfig(resize_short_side=None, pool_kernel=2, projection_dim=24,
                                             pool_count_pad=False, border_pad=8)),
], ids=["default-banks", "even-kernel-projection-border"])
def exported(request, tmp_path_factory):
    model = SequentialPatchCore(request.param["features"], scales=request.param["scales"], capacity=24)
    model.fit([_surface(s) for s in range(3)], epochs=1, progress=False)
    return model, model.export(tmp_path_factory.mktemp("export"))


@pytest.mark.parametrize("shape", [(64, 80), (256, 320), (112, 48)])
def test_onnxruntime_matches_the_torch_extractor(exported, shape):
    model, out = exported
    session = ort.InferenceSession(str(out / "extractor.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((1, *shape, 3)).astype(np.float32)
    ref = model.extractor.forward_kernels(x, model.scales)
    b = model.config.border_pad  # the caller mirrors the border (sizes stay aligned here)
    padded = np.pad(x, ((0, 0), (b, b), (b, b), (0, 0)), mode="reflect")
    got = session.run(None, {"image": np.ascontiguousarray(padded.transpose(0, 3, 1, 2))})
    assert len(got) == len(model.scales)
    cell = model.config.border_pad // model.extractor.stride
    for r, g in zip(ref, got, strict=True):
        r = r.numpy()
        g = g[:, :, cell : cell + r.shape[2], cell : cell + r.shape[3]]
        assert g.shape == r.shape
        assert np.abs(r - g).max() <= 1e-4 * np.abs(r).max()


def test_export_writes_checked_onnx_and_its_hash(exported):
    model, out = exported
    onnx.checker.check_model(onnx.load(str(out / "extractor.onnx")), full_check=True)
    tensors, meta = load_model(out / "model.safetensors")
    digest = hashlib.sha256((out / "extractor.onnx").read_bytes()).hexdigest()
    assert meta["export"]["onnx_sha256"] == digest
    assert json.loads((out / "manifest.json").read_text())["onnx_sha256"] == digest
    assert meta["export"]["scales"] == list(model.scales)
    np.testing.assert_array_equal(tensors["coreset"], model.banks[0].points)
    assert tensors["support"].shape == (model.banks[0].size, min(9, model.banks[0].size))
