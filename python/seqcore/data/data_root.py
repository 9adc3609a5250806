"""Where the data sets live: one lookup instead of machine paths in code, tests and benchmarks."""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SEQCORE_DATA"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <repo>/python/seqcore/data/data_root.py -> <repo>


def _is_checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "python" / "seqcore").is_dir()


def default_root() -> Path:
    """``<repo>/../shared/data`` beside the source checkout this module or the working directory is in.

    The package may be installed (site-packages) while tests and benchmarks run from a checkout,
    so the working directory counts too; elsewhere ``./data``.
    """
    for folder in (_CHECKOUT, Path.cwd().resolve()):
        if _is_checkout(folder):
            return folder.parent / "shared" / "data"
    return Path("data").resolve()


def data_root(name: str | None = None) -> Path:
    """Folder of data set `name` (or the folder holding all data sets) under $SEQCORE_DATA.

    Without the environment variable the default is ``default_root()``. Raises
    FileNotFoundError, naming SEQCORE_DATA, when the folder does not exist.
    """
    configured = os.environ.get(ENV_VAR)
    root = Path(configured).expanduser() if configured else default_root()
    path = root / name if name else root
    if not path.is_dir():
        origin = f"${ENV_VAR}={configured}" if configured else f"the default {root} (${ENV_VAR} is not set)"
        raise FileNotFoundError(f"data folder {path} not found under {origin}; set {ENV_VAR} to the data root")
    return path
