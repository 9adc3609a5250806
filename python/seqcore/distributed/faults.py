"""Fault injection for tests: make the first attempt of one shard's task die halfway through its first epoch.

``SEQCORE_DISTRIBUTED_FAULT=SHARD:MARKER`` kills (``os._exit``, as a lost machine would) the task of
shard SHARD once it has read half its images, unless the file MARKER exists; it creates MARKER first,
so the retried attempt runs to the end. Unset, nothing happens. The driver's value is handed to the
shard tasks (``fault_options``), whose worker processes may predate it.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

FAULT_ENV = "SEQCORE_DISTRIBUTED_FAULT"


def fault_hook(shard: int, images: int) -> Callable[[int], None] | None:
    """A callback taking the count of images read so far that kills this attempt halfway, or None."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return None
    target, _, marker = spec.partition(":")
    if int(target) != shard or not marker or Path(marker).exists():
        return None
    Path(marker).write_text(f"shard {shard} killed after {images // 2} of {images} images\n")
    halfway = max(1, images // 2)

    def kill(seen: int) -> None:
        if seen >= halfway:
            os._exit(1)

    return kill


def fault_options() -> dict:
    """Ray task options that pass the driver's fault setting to the tasks' workers (none when unset)."""
    spec = os.environ.get(FAULT_ENV)
    return {"runtime_env": {"env_vars": {FAULT_ENV: spec}}} if spec else {}
