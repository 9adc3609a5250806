"""Deterministic sharding of a training set by index: contiguous blocks, the same for every run."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shard:
    """Images ``start:stop`` of the training set, shard number ``index``."""

    index: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def shard_ranges(count: int, shards: int) -> list[Shard]:
    """``count`` images in ``shards`` contiguous blocks whose sizes differ by at most one (first ones larger)."""
    if count < 1:
        raise ValueError("distributed training needs at least one image")
    if shards < 1:
        raise ValueError(f"the number of shards must be >= 1, got {shards}")
    shards = min(shards, count)
    size, extra = divmod(count, shards)
    out, start = [], 0
    for index in range(shards):
        stop = start + size + (index < extra)
        out.append(Shard(index, start, stop))
        start = stop
    return out


class ShardView:
    """The images of one shard as a re-iterable sequence; ``on_image`` is called after each image is yielded.

    Unreadable images are skipped and counted (as ``Dataset`` does) when the data has an
    ``on_error`` of "skip" or none at all.
    """

    def __init__(self, data: Sequence[Any], shard: Shard, on_image: Callable[[], None] | None = None) -> None:
        self.data, self.shard, self.on_image = data, shard, on_image
        self.skipped: set[int] = set()

    def __len__(self) -> int:
        return len(self.shard)

    def __iter__(self) -> Iterator[Any]:
        from seqcore.data.images import ImageReadError

        for index in range(self.shard.start, self.shard.stop):
            try:
                item = self.data[index]
            except ImageReadError:
                if getattr(self.data, "on_error", "skip") == "raise":
                    raise
                self.skipped.add(index)
                continue
            yield item
            if self.on_image is not None:
                self.on_image()
