"""Build-side checks that run without a GPU: architecture choice per toolkit version, the
build with CUDA disabled, and clean errors from seqcore._cuda when no GPU is visible."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CMAKE = shutil.which("cmake") or str(Path(sys.executable).with_name("cmake"))


def select_archs(tmp_path: Path, release: str, env: dict[str, str] | None = None) -> str:
    """Runs cuda/cuda_archs.cmake against a fake nvcc reporting `release`; returns its choice."""
    nvcc = tmp_path / "nvcc"
    nvcc.write_text(f'#!/bin/sh\necho "Cuda compilation tools, release {release}, V{release}.1"\n')
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IEXEC)
    run_env = {k: v for k, v in os.environ.items() if k not in ("SEQCORE_CUDA_ARCHS", "CUDAARCHS")}
    run_env.update(env or {})
    out = subprocess.run([CMAKE, f"-DCMAKE_CUDA_COMPILER={nvcc}", "-P", str(REPO / "cuda" / "cuda_archs.cmake")],
                         capture_output=True, text=True, env=run_env, check=True)
    return (out.stdout + out.stderr).split("CUDA architectures", 1)[1].strip()


@pytest.mark.skipif(not Path(CMAKE).exists(), reason="cmake not installed")
def test_architectures_follow_the_toolkit(tmp_path: Path) -> None:
    assert select_archs(tmp_path, "13.0") == "75-real;80-real;86-real;89-real;90"
    assert select_archs(tmp_path, "12.4") == "70-real;75-real;80-real;86-real;89-real;90"
    assert select_archs(tmp_path, "13.0", {"SEQCORE_CUDA_ARCHS": "90"}) == "90"


@pytest.mark.skipif(not Path(CMAKE).exists(), reason="cmake not installed")
def test_configure_with_cuda_disabled(tmp_path: Path) -> None:
    env = dict(os.environ, SEQCORE_CUDA="OFF")
    out = subprocess.run([CMAKE, "-S", str(REPO), "-B", str(tmp_path / "build"), "-DSEQCORE_BUILD_TESTS=OFF"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "seqcore: CUDA kernels OFF" in out.stdout
    assert "CUDA architectures" not in out.stdout


def test_cuda_module_without_gpu_fails_cleanly(cuda_build: ModuleType) -> None:
    cuda = cuda_build
    count = cuda.device_count()
    assert isinstance(count, int) and count >= 0
    if count > 0:
        pytest.skip("GPU present: this no-GPU check is replaced by tests/cuda/test_cuda_coreset.py")
    with pytest.raises(ValueError, match="no CUDA device"):
        cuda.SequentialCoreset(16, 4, 0)
    with pytest.raises(ValueError, match="no CUDA device"):
        cuda.nearest_neighbors(np.ones((2, 4), np.float32), np.ones((3, 4), np.float32))
    from seqcore.coreset import SequentialCoreset

    with pytest.raises(RuntimeError, match="not available"):
        SequentialCoreset(16, 4, device="cuda")
