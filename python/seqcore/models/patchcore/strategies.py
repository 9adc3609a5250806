"""How a PatchCore coreset is trained from patch arrays: sequential offers or greedy k-center.

A strategy gets ``source(desc)`` (one pass of (n, d) patch arrays per call) and returns the
trained coreset; ``name`` is the ``"method"`` value written to model files.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PatchSource = Callable[[str], Iterable[np.ndarray]]
GREEDY_PROJECTION_DIM = 128  # default of the greedy baseline; recorded in every model file


@dataclass
class FitReport:
    """What one call of ``fit`` did: per-epoch replacement and patch counts, stop reason, time."""

    method: str
    replacements: list[int] = field(default_factory=list)
    patches: list[int] = field(default_factory=list)
    stop_reason: str = ""
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.patches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "epochs": self.epochs,
            "replacements": list(self.replacements),
            "patches": list(self.patches),
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class CoresetSpec:
    """Shape, device and seed of the coreset a strategy builds."""

    capacity: int
    dim: int
    device: str = "cpu"
    seed: int = 0


class Strategy(Protocol):
    """A training strategy; ``train`` continues from ``coreset`` when it is not None (fine-tuning)."""

    name: str

    def passes(self, epochs: int, augmented: bool) -> int: ...

    def train(self, coreset: Any, source: PatchSource, passes: int, spec: CoresetSpec, report: FitReport) -> Any: ...


def _no_patches() -> ValueError:
    return ValueError("no training patches: the data is empty or every patch was filtered out")


@dataclass(frozen=True)
class Sequential:
    """Offer every patch to a bounded coreset, epoch after epoch (SPEC §2); stops when it settles."""

    name = "sequential"

    def passes(self, epochs: int, augmented: bool) -> int:
        return epochs

    def train(self, coreset: Any, source: PatchSource, passes: int, spec: CoresetSpec, report: FitReport) -> Any:
        from seqcore.coreset import SequentialCoreset

        if coreset is None:
            coreset = SequentialCoreset(spec.capacity, spec.dim, device=spec.device)
        for epoch in range(1, passes + 1):
            replaced = offered = 0
            for patches in source(f"epoch {epoch}/{passes}"):
                if len(patches):
                    replaced += int(coreset.offer_batch(patches))
                    offered += len(patches)
            report.replacements.append(replaced)
            report.patches.append(offered)
            if offered == 0:
                raise _no_patches()
            if coreset.size < spec.capacity:
                report.stop_reason = "coreset not full: every patch kept"
                return coreset
            if replaced == 0:
                report.stop_reason = "no replacements"
                return coreset
        report.stop_reason = "max epochs"
        return coreset


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

    def train(self, coreset: Any, source: PatchSource, passes: int, spec: CoresetSpec, report: FitReport) -> Any:
        from seqcore.coreset import SequentialCoreset, greedy_kcenter

        pool = [] if coreset is None else [coreset.points]
        for index in range(passes):
            count = 0
            for patches in source(f"collect {index + 1}/{passes}"):
                pool.append(np.asarray(patches, dtype=np.float32))
                count += len(patches)
            report.patches.append(count)
            report.replacements.append(0)
        features = np.concatenate(pool, axis=0) if pool else np.empty((0, spec.dim), np.float32)
        if len(features) == 0:
            raise _no_patches()
        if len(features) > spec.capacity:
            proj = self.projection_dim
            proj = proj if proj is not None and proj < features.shape[1] else None
            features = features[greedy_kcenter(features, spec.capacity, projection_dim=proj, seed=spec.seed)]
        report.stop_reason = "greedy k-center"
        return SequentialCoreset.from_points(features, capacity=spec.capacity, device=spec.device)


STRATEGIES = ("sequential", "greedy")


def strategy_named(name: str, greedy_projection_dim: int | None = GREEDY_PROJECTION_DIM) -> Strategy:
    """The strategy a model file's (or the CLI's) ``method`` value names."""
    if name == "sequential":
        return Sequential()
    if name == "greedy":
        return Greedy(greedy_projection_dim)
    raise ValueError(f"method must be one of {STRATEGIES}, got {name!r}")


def greedy_projection_dim(strategy: Strategy) -> int | None:
    """The ``greedy_projection_dim`` a model file records (the default for non-greedy strategies)."""
    return strategy.projection_dim if isinstance(strategy, Greedy) else GREEDY_PROJECTION_DIM
