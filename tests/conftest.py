"""Shared fixtures: location of the real magnetic-tile data set (seqcore.data.data_root)."""
from __future__ import annotations

from pathlib import Path

import pytest


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
