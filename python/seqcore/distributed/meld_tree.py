"""The reduce step: shard models melded in groups of ``fan_in``, level by level, into one model.

Groups are consecutive in shard order and each group's base is its lowest shard, so the result
depends only on the shard models, never on which task finished first. With n shards the tree has
``tree_depth(n, fan_in)`` = ceil(log_fan_in n) levels; a level's melds are independent tasks.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from seqcore.models.patchcore import SequentialPatchCore

DEFAULT_FAN_IN = 4  # models per meld: each meld offers fan_in·K points to a K-point coreset
T = TypeVar("T")


def tree_depth(count: int, fan_in: int = DEFAULT_FAN_IN) -> int:
    """Levels of melds that reduce ``count`` models to one (0 for a single model)."""
    if fan_in < 2:
        raise ValueError(f"fan_in must be >= 2, got {fan_in}")
    depth = 0
    while count > 1:
        count = -(-count // fan_in)
        depth += 1
    return depth


def reduce_tree(items: Sequence[T], meld: Callable[[Sequence[T]], T], fan_in: int = DEFAULT_FAN_IN) -> T:
    """Reduce ``items`` with ``meld`` over groups of ``fan_in`` consecutive items, level by level.

    ``meld`` may return a placeholder (a Ray object reference): a whole level is issued before
    the next one uses its results, so the melds of one level run in parallel.
    """
    if not items:
        raise ValueError("nothing to meld")
    tree_depth(len(items), fan_in)  # checks fan_in
    level = list(items)
    while len(level) > 1:
        level = [level[i] if len(level[i:i + fan_in]) == 1 else meld(level[i:i + fan_in])
                 for i in range(0, len(level), fan_in)]
    return level[0]


def meld_tree(models: Sequence[SequentialPatchCore], fan_in: int = DEFAULT_FAN_IN) -> SequentialPatchCore:
    """Meld fitted models (in this order) as a tree of ``fan_in`` into one, in this process."""
    return reduce_tree(models, SequentialPatchCore.meld, fan_in)
