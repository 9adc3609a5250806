"""Fixtures of the GPU tests: always collected; they skip, with the reason, only where no GPU
is visible. A missing seqcore._cuda is a failure when the build should have made it (a CUDA
compiler is present and SEQCORE_CUDA is not OFF), so a broken CUDA build is never a skip."""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest


def cuda_compiler() -> str | None:
    """The nvcc CMake's check_language(CUDA) would find: $CUDACXX, PATH, /usr/local/cuda."""
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def cuda_build() -> ModuleType:
    """seqcore._cuda, GPU or not; skips only when the build was meant to leave it out."""
    try:
        return importlib.import_module("seqcore._cuda")
    except ImportError as error:
        if os.environ.get("SEQCORE_CUDA", "").upper() == "OFF":
            pytest.skip("seqcore._cuda not built: SEQCORE_CUDA=OFF")
        nvcc = cuda_compiler()
        if nvcc is None:
            pytest.skip("seqcore._cuda not built: no CUDA compiler (nvcc) on this machine")
        pytest.fail(f"seqcore._cuda is missing although {nvcc} exists: the CUDA build failed ({error})")


@pytest.fixture(scope="session")
def cuda_module(cuda_build: ModuleType) -> ModuleType:
    """seqcore._cuda with at least one visible GPU; skips the test otherwise."""
    if cuda_build.device_count() == 0:
        pytest.skip("GPU test: no CUDA GPU visible")
    return cuda_build


@pytest.fixture(scope="session")
def core_module() -> ModuleType:
    """seqcore._core, the CPU reference the GPU decisions must match (always built)."""
    return importlib.import_module("seqcore._core")
