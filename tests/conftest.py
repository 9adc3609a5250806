"""Shared fixtures (the real magnetic-tile data set beside the repository) and the Hypothesis
profiles: "ci" (derandomized, fixed size) when $CI is set, else the longer random "dev"."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=20, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = (REPO.parent / "shared" / "data" / "magnetic_tile", Path("/work/shared/data/magnetic_tile"))


@pytest.fixture(scope="session")
def magnetic_tile_root() -> Path:
    """Root of ../shared/data/magnetic_tile; skips the test when the data is absent."""
    for path in _CANDIDATES:
        if (path / "split.csv").is_file():
            return path
    pytest.skip("magnetic-tile data not found beside the repository")
