"""Importing and starting Ray with a clear error when the optional extra is missing."""
from __future__ import annotations

from types import ModuleType


class RayMissingError(ImportError):
    """Ray is not installed: distributed training needs the ``seqcore[distributed]`` extra."""


def require_ray() -> ModuleType:
    """The ``ray`` module, or RayMissingError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError(
            "distributed training needs Ray: pip install 'seqcore[distributed]' (or pip install ray)"
        ) from exc
    return ray


def connect(address: str | None, workers: int) -> tuple[ModuleType, bool]:
    """Ray, connected to ``address`` (a running cluster, e.g. "ray://head:10001" or "auto") or, without one,
    to the instance already initialised in this process or a new local one of ``workers`` CPUs.

    Returns (ray, started): ``started`` says this call initialised Ray, so the caller shuts it down.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray, False
    if address is None:
        ray.init(num_cpus=workers, include_dashboard=False, logging_level="warning", log_to_driver=False)
    else:
        ray.init(address=address, logging_level="warning", log_to_driver=False)
    return ray, True
