"""Fixtures of the GPU tests: they are always collected and skip cleanly without a GPU."""
from __future__ import annotations

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def cuda_module() -> ModuleType:
    """seqcore._cuda with at least one visible GPU; skips the test otherwise."""
    try:
        module = importlib.import_module("seqcore._cuda")
    except ImportError:
        pytest.skip("seqcore._cuda was not built (no CUDA toolkit at build time)")
    if module.device_count() == 0:
        pytest.skip("no CUDA GPU visible")
    return module


@pytest.fixture(scope="session")
def core_module() -> ModuleType:
    """seqcore._core, the CPU reference the GPU decisions must match."""
    try:
        return importlib.import_module("seqcore._core")
    except ImportError:
        pytest.skip("seqcore._core was not built")
