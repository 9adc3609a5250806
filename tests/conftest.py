"""Shared fixtures (the real magnetic-tile data set, via seqcore.data.data_root) and the Hypothesis
profiles: "ci" (derandomized, fixed size) when $CI is set, else the longer random "dev"."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=20, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def magnetic_tile_root() -> Path:
    """Root of the magnetic_tile data set ($SEQCORE_DATA or ../shared/data); skips when absent."""
    from seqcore.data.data_root import data_root  # imported here: seqcore.data loads cv2 and numba

    try:
        path = data_root("magnetic_tile")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    if not (path / "split.csv").is_file():
        pytest.skip(f"{path} has no split.csv")
    return path
