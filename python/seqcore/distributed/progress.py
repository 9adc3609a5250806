"""One progress bar over every shard's image passes: tasks report to a small actor, the driver polls it."""
from __future__ import annotations

from typing import Any


class ProgressCounter:
    """Image passes done per shard; a retried shard restarts from zero, so nothing is counted twice."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}

    def set(self, shard: int, passes: int) -> None:
        self.done[shard] = passes

    def total(self) -> int:
        return sum(self.done.values())


class Reporter:
    """The task side: counts images read and sends the count to the actor every ``every`` images."""

    def __init__(self, counter: Any, shard: int, cap: int, every: int = 4) -> None:
        self.counter, self.shard, self.cap, self.every = counter, shard, cap, every
        self.seen = 0
        if counter is not None:
            counter.set.remote(shard, 0)

    def __call__(self) -> None:
        self.seen += 1
        if self.counter is not None and self.seen % self.every == 0:
            self.counter.set.remote(self.shard, min(self.seen, self.cap))

    def finish(self) -> None:
        if self.counter is not None:
            self.counter.set.remote(self.shard, self.cap)
