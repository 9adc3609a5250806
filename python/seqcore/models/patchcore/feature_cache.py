"""Bounded on-disk cache of training patch features, so epochs >= 2 skip decoding and the backbone.

Each image's filtered tile arrays (one per bank) are appended, float32 (float16 would round the
vectors and so change which patches the coreset keeps), to shard files of at most
``SHARD_BYTES``, read back by plain reads (not memory maps, whose resident pages would count
toward the process's memory and grow it with the data); once ``max_bytes`` would be exceeded,
further images are not cached and are re-extracted each epoch. The directory is removed by
``close`` (or the context manager).
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_CACHE_BYTES = 8 << 30  # 8 GiB: magnetic-tile train at the defaults needs about a quarter of it
SHARD_BYTES = 256 << 20
Tile = list[np.ndarray]  # one (n, d) float32 array per bank


class FeatureCache:
    """Per image position, its tiles' patch arrays; ``put`` returns False once the cap is reached."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, directory: str | Path | None = None) -> None:
        if max_bytes < 0:
            raise ValueError(f"feature cache cap must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.directory = Path(tempfile.mkdtemp(prefix="seqcore-features-", dir=directory))
        self.bytes = 0  # bytes written so far
        self.full = False  # an image was refused: the cap was reached
        # position -> per tile, per bank (shard, byte offset, rows, dim)
        self._index: dict[int, list[list[tuple[int, int, int, int]]]] = {}
        self._shards: list[Path] = []
        self._shard_bytes = 0
        self._writer = None
        self._readers: dict[int, object] = {}  # shard -> open binary file

    def __contains__(self, position: int) -> bool:
        return position in self._index

    def __len__(self) -> int:
        return len(self._index)

    def _open_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.directory / f"shard_{len(self._shards):05d}.f32"
        self._shards.append(path)
        self._writer = open(path, "wb")  # noqa: SIM115 - kept open across puts, closed by _open_shard/close
        self._shard_bytes = 0

    def put(self, position: int, tiles: Sequence[Tile]) -> bool:
        """Store one image's tiles (False, and nothing stored, when it would pass the cap)."""
        size = sum(a.size * 4 for tile in tiles for a in tile)
        if self.full or self.bytes + size > self.max_bytes:
            self.full = True
            return False
        entry = []
        for tile in tiles:
            parts = []
            for array in tile:
                array = np.ascontiguousarray(array, dtype=np.float32)
                if self._writer is None or (self._shard_bytes and self._shard_bytes + array.nbytes > SHARD_BYTES):
                    self._open_shard()
                parts.append((len(self._shards) - 1, self._shard_bytes, array.shape[0], array.shape[1]))
                self._writer.write(array.tobytes())
                self._shard_bytes += array.nbytes
            entry.append(parts)
        self.bytes += size
        self._index[position] = entry
        return True

    def _read(self, shard: int, offset: int, count: int) -> np.ndarray:
        if self._writer is not None and shard == len(self._shards) - 1:
            self._writer.flush()  # the shard being written: make its bytes visible to the reader
        if shard not in self._readers:
            self._readers[shard] = open(self._shards[shard], "rb")  # noqa: SIM115 - closed by close()
        reader = self._readers[shard]
        reader.seek(offset)
        array = np.fromfile(reader, dtype=np.float32, count=count)
        if array.size != count:
            raise OSError(f"feature cache shard {self._shards[shard]} is truncated ({array.size} of {count} values)")
        return array

    def get(self, position: int) -> list[Tile]:
        """The tiles stored for ``position`` (fresh arrays read from the shards)."""
        out = []
        for parts in self._index[position]:
            out.append([self._read(shard, offset, rows * dim).reshape(rows, dim) if rows else
                        np.empty((0, dim), np.float32) for shard, offset, rows, dim in parts])
        return out

    def close(self) -> None:
        """Delete the shards."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
