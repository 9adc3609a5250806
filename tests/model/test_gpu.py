"""CUDA backbone: same maps as on the CPU within float tolerance (skipped without a GPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqcore import SequentialPatchCore

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_backbone_matches_cpu():
    rng = np.random.default_rng(0)
    images = [(rng.random((64, 80)) * 255).astype(np.uint8) for _ in range(3)]
    cpu = SequentialPatchCore(capacity=32)
    cpu.fit(images, epochs=1, progress=False)
    gpu = SequentialPatchCore(capacity=32, device="cuda")
    gpu.coreset = cpu.coreset
    np.testing.assert_allclose(gpu.predict(images[0]).anomaly_map, cpu.predict(images[0]).anomaly_map,
                               rtol=1e-2, atol=1e-2)
    bf16 = SequentialPatchCore(capacity=32, device="cuda", bf16=True)
    bf16.coreset = cpu.coreset
    assert np.isfinite(bf16.predict(images[0]).anomaly_map).all()
