"""Shared fixtures: location of the real magnetic-tile data set beside the repository."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = (REPO.parent / "shared" / "data" / "magnetic_tile", Path("/work/shared/data/magnetic_tile"))


@pytest.fixture(scope="session")
def magnetic_tile_root() -> Path:
    """Root of ../shared/data/magnetic_tile; skips the test when the data is absent."""
    for path in _CANDIDATES:
        if (path / "split.csv").is_file():
            return path
    pytest.skip("magnetic-tile data not found beside the repository")
