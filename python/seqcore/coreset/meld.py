"""Melding coresets (docs/design.md §2): combine trained coresets without feature extraction."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqcore.coreset._validate import as_points, positive_int
from seqcore.coreset.reference import ReferenceCoreset
from seqcore.coreset.sequential import SequentialCoreset


def meld(sources: Sequence[Any], capacity: int | None = None, device: str = "cpu",
         max_passes: int = 100) -> SequentialCoreset:
    """Offers the points of every source in turn (base first) to a new coreset of
    `capacity` (default: the base's capacity, or its row count for an array), repeating
    passes until one makes no replacement (at most max_passes)."""
    if len(sources) == 0:
        raise ValueError("meld needs at least one source")
    arrays = [
        s.points if isinstance(s, (SequentialCoreset, ReferenceCoreset)) else as_points(s, None, f"sources[{n}]")
        for n, s in enumerate(sources)
    ]
    dim = arrays[0].shape[1]
    for n, a in enumerate(arrays):
        if a.shape[1] != dim:
            raise ValueError(f"sources[{n}] has dimension {a.shape[1]}, expected {dim}")
    if capacity is None:
        base = sources[0]
        capacity = base.capacity if isinstance(base, (SequentialCoreset, ReferenceCoreset)) else len(arrays[0])
    core = SequentialCoreset(capacity, dim, device)
    for _ in range(positive_int(max_passes, "max_passes")):
        if sum(core.offer_batch(a) for a in arrays) == 0:
            break
    return core
