"""The image stream of a fit (docs/design.md §17): decode and extract in a producer thread, cache the
features on disk during the first epoch and read them back in later ones.

Positions are indices into the data; the coreset sees images in position order whatever the
cache or the thread do, so the fitted model does not depend on them.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

from seqcore.features.memory import release_freed_memory
from seqcore.models.patchcore.feature_cache import FeatureCache, Tile

PREFETCH_IMAGES = 2  # images the producer may run ahead of the coreset
_DONE = object()


def prefetched(items: Iterable[Any], depth: int = PREFETCH_IMAGES) -> Iterator[Any]:
    """``items`` produced by a background thread, at most ``depth`` ahead; its errors re-raised here."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            slots.put((_DONE, exc))

    thread = threading.Thread(target=produce, name="seqcore-fit-producer", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let the producer see the stop flag
            try:
                slots.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _read(data: Any, position: int) -> Any | None:
    """Item ``position`` of an indexable dataset, None when the dataset skips it as unreadable."""
    reader = getattr(data, "read", None)
    return reader(position) if callable(reader) else data[position]


def data_items(data: Iterable, start: int, wanted: Callable[[int], bool]) -> Iterator[tuple[int, Any]]:
    """(position, item) from ``start`` on; item None for positions not ``wanted`` (not decoded when
    the data is indexable) and for images the dataset skips."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        for position in range(start, len(data)):
            yield position, _read(data, position) if wanted(position) else None
        return
    for position, item in enumerate(data):
        if position >= start:
            yield position, item if wanted(position) else None


def image_stream(
    extract: Callable[[Any], list[Tile]],
    data: Iterable,
    cache: FeatureCache | None,
    *,
    augmented: bool,
    prefetch: bool,
    progress: bool,
    step: int = 1,
) -> Callable[[str, int], Iterator[tuple[int, list[Tile]]]]:
    """An ``ImageSource``: per image position (every ``step``-th) its tiles, from the cache when it
    holds them (never with augmentation), else extracted by ``extract(item)`` and cached if room."""

    def cached(position: int) -> bool:
        return cache is not None and not augmented and position in cache

    def produce(start: int) -> Iterator[tuple[int, list[Tile]]]:
        for position, item in data_items(data, start, lambda p: p % step == 0 and not cached(p)):
            if position % step:
                continue
            if cached(position):
                yield position, cache.get(position)
                continue
            tiles = [] if item is None else extract(item)
            if cache is not None and not augmented:
                cache.put(position, tiles)
            release_freed_memory()
            yield position, tiles

    def source(desc: str, start: int) -> Iterator[tuple[int, list[Tile]]]:
        total = len(data) if hasattr(data, "__len__") else None
        items = prefetched(produce(start)) if prefetch else produce(start)
        bar = tqdm(total=total, initial=start, desc=desc, unit="img", disable=not progress, leave=False)
        with bar:
            for position, tiles in items:
                bar.update(position + 1 - bar.n)
                yield position, tiles

    return source
