"""Exception classes shared by the Python code and the compiled core, importable without the core."""
from __future__ import annotations


class ModelFileError(ValueError):
    """Missing, truncated, corrupt, foreign or version-mismatched model file, or invalid metadata."""
