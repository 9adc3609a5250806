"""How a PatchCore coreset is trained from patch arrays: sequential offers or greedy k-center.

A strategy gets ``source(desc)`` (one pass per call, yielding per tile one (n, d) patch array
per bank) and returns the trained coresets, one per bank, each trained as if it were alone;
``name`` is the ``"method"`` value written to model files.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PatchSource = Callable[[str], Iterable[Sequence[np.ndarray]]]
# (desc, first position) -> per image (position, its tiles, each one (n, d) array per bank)
ImageSource = Callable[[str, int], Iterable[tuple[int, Sequence[Sequence[np.ndarray]]]]]
GREEDY_PROJECTION_DIM = 128  # default of the greedy baseline; recorded in every model file
# Early stop (docs/design.md §17): an epoch replacing at most this fraction of K ends the fit.
DEFAULT_STOP_FRACTION = 0.1


@dataclass
class FitReport:
    """What one call of ``fit`` did: per-epoch replacement and patch counts (primary bank), stop reason,
    time; ``bank_replacements`` per further bank when there are several."""

    method: str
    replacements: list[int] = field(default_factory=list)
    bank_replacements: list[list[int]] = field(default_factory=list)
    patches: list[int] = field(default_factory=list)
    stop_reason: str = ""
    seconds: float = 0.0
    cache_bytes: int = 0  # feature-cache bytes written on disk (0: no cache); not in the model file

    @property
    def epochs(self) -> int:
        return len(self.patches)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "method": self.method,
            "epochs": self.epochs,
            "replacements": list(self.replacements),
            "patches": list(self.patches),
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 3),
        }
        if self.bank_replacements:
            data["bank_replacements"] = [list(r) for r in self.bank_replacements]
        return data


@dataclass(frozen=True)
class CoresetSpec:
    """Shape, device and seed of the coreset a strategy builds."""

    capacity: int
    dim: int
    device: str = "cpu"
    seed: int = 0
    banks: int = 1


class Strategy(Protocol):
    """A training strategy; ``train`` continues from ``coresets`` when not None (fine-tuning)."""

    name: str

    def passes(self, epochs: int, augmented: bool) -> int: ...

    def train(self, coresets: list | None, source: PatchSource, passes: int, spec: CoresetSpec,
              report: FitReport) -> list: ...


def _no_patches() -> ValueError:
    return ValueError("no training patches: the data is empty or every patch was filtered out")


@dataclass
class FitState:
    """Where a sequential fit is: the epoch, the next image position and the epoch's counts so far
    (what a checkpoint stores besides the coresets and the report)."""

    epoch: int
    active: list[int]
    reasons: list[str]
    position: int = 0
    replaced: list[int] = field(default_factory=list)
    offered: int = 0

    @classmethod
    def start(cls, banks: int) -> FitState:
        return cls(1, list(range(banks)), ["max epochs"] * banks, 0, [0] * banks, 0)


@dataclass(frozen=True)
class Sequential:
    """Offer every patch to a bounded coreset, epoch after epoch (docs/design.md §2); a bank stops
    after an epoch with at most ``stop_fraction`` · K replacements (0: only after none)."""

    stop_fraction: float = DEFAULT_STOP_FRACTION
    name = "sequential"

    def __post_init__(self) -> None:
        if not 0.0 <= self.stop_fraction < 1.0:
            raise ValueError(f"stop_fraction must be in [0, 1), got {self.stop_fraction}")

    def passes(self, epochs: int, augmented: bool) -> int:
        return epochs

    def train(self, coresets: list | None, source: PatchSource, passes: int, spec: CoresetSpec,
              report: FitReport) -> list:
        return self.train_images(coresets, lambda desc, start: enumerate([tile] for tile in source(desc)),
                                 passes, spec, report)

    def train_images(self, coresets: list | None, images: ImageSource, passes: int, spec: CoresetSpec,
                     report: FitReport, state: FitState | None = None,
                     on_image: Callable[[FitState, list], None] | None = None) -> list:
        """``train`` over whole images, continuing from ``state`` (a checkpoint) when given;
        ``on_image(state, coresets)`` runs after each image and at the end of each epoch."""
        from seqcore.coreset import SequentialCoreset

        if coresets is None:
            coresets = [SequentialCoreset(spec.capacity, spec.dim, device=spec.device) for _ in range(spec.banks)]
        if state is None:
            state = FitState.start(len(coresets))
            report.bank_replacements = [[] for _ in coresets[1:]]
        limit = self.stop_fraction * spec.capacity
        while state.epoch <= passes and state.active:
            for position, tiles in images(f"epoch {state.epoch}/{passes}", state.position):
                for patches in tiles:
                    if len(patches[0]):
                        for b in state.active:
                            state.replaced[b] += int(coresets[b].offer_batch(patches[b]))
                        state.offered += len(patches[0])
                state.position = position + 1
                if on_image is not None:
                    on_image(state, coresets)
            self._end_epoch(state, coresets, spec.capacity, limit, report)
            if on_image is not None:
                on_image(state, coresets)
        report.stop_reason = state.reasons[0]
        return coresets

    @staticmethod
    def _end_epoch(state: FitState, coresets: list, capacity: int, limit: float, report: FitReport) -> None:
        """Record the epoch's counts, retire the banks that settled and start the next epoch."""
        report.replacements.append(state.replaced[0])
        for b, counts in enumerate(report.bank_replacements, start=1):
            counts.append(state.replaced[b])
        report.patches.append(state.offered)
        if state.offered == 0:
            raise _no_patches()
        for b in list(state.active):
            if coresets[b].size < capacity:
                state.reasons[b] = "coreset not full: every patch kept"
            elif state.replaced[b] == 0:
                state.reasons[b] = "no replacements"
            elif state.replaced[b] <= limit:
                state.reasons[b] = f"replacements <= {limit / capacity:g} K"
            else:
                continue
            state.active.remove(b)
        state.epoch += 1
        state.position, state.replaced, state.offered = 0, [0] * len(coresets), 0


@dataclass(frozen=True)
class Greedy:
    """Original PatchCore baseline: greedy k-center over all patches (plus the current coreset).

    One pass over the data (one per epoch with augmentation); distances for the selection are
    taken in a random projection to ``projection_dim`` (None: the full dimension).
    """

    projection_dim: int | None = GREEDY_PROJECTION_DIM
    name = "greedy"

    def __post_init__(self) -> None:
        if self.projection_dim is not None and (isinstance(self.projection_dim, bool) or self.projection_dim < 1):
            raise ValueError(f"greedy projection_dim must be None or >= 1, got {self.projection_dim}")

    def passes(self, epochs: int, augmented: bool) -> int:
        return epochs if augmented else 1

    def train(self, coresets: list | None, source: PatchSource, passes: int, spec: CoresetSpec,
              report: FitReport) -> list:
        from seqcore.coreset import SequentialCoreset, greedy_kcenter

        pools = [[] for _ in range(spec.banks)] if coresets is None else [[c.points] for c in coresets]
        for index in range(passes):
            count = 0
            for patches in source(f"collect {index + 1}/{passes}"):
                for pool, bank_patches in zip(pools, patches, strict=True):
                    pool.append(np.asarray(bank_patches, dtype=np.float32))
                count += len(patches[0])
            report.patches.append(count)
            report.replacements.append(0)
        out = []
        for pool in pools:
            features = np.concatenate(pool, axis=0) if pool else np.empty((0, spec.dim), np.float32)
            if len(features) == 0:
                raise _no_patches()
            if len(features) > spec.capacity:
                proj = self.projection_dim
                proj = proj if proj is not None and proj < features.shape[1] else None
                features = features[greedy_kcenter(features, spec.capacity, projection_dim=proj, seed=spec.seed)]
            out.append(SequentialCoreset.from_points(features, capacity=spec.capacity, device=spec.device))
        report.stop_reason = "greedy k-center"
        return out


STRATEGIES = ("sequential", "greedy")


def strategy_named(name: str, greedy_projection_dim: int | None = GREEDY_PROJECTION_DIM,
                   stop_fraction: float = DEFAULT_STOP_FRACTION) -> Strategy:
    """The strategy a model file's (or the CLI's) ``method`` value names."""
    if name == "sequential":
        return Sequential(stop_fraction)
    if name == "greedy":
        return Greedy(greedy_projection_dim)
    raise ValueError(f"method must be one of {STRATEGIES}, got {name!r}")


def greedy_projection_dim(strategy: Strategy) -> int | None:
    """The ``greedy_projection_dim`` a model file records (the default for non-greedy strategies)."""
    return strategy.projection_dim if isinstance(strategy, Greedy) else GREEDY_PROJECTION_DIM
