"""``fit_distributed``: the sharded fit through Ray with melding as the reduce step (docs/design.md § Scaling)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from seqcore.distributed.faults import fault_options
from seqcore.distributed.meld_tree import DEFAULT_FAN_IN, reduce_tree, tree_depth
from seqcore.distributed.progress import ProgressCounter
from seqcore.distributed.ray_runtime import connect
from seqcore.distributed.shards import shard_ranges
from seqcore.distributed.task import fit_shard, meld_blobs
from seqcore.distributed.transport import model_from_bytes
from seqcore.models.patchcore import SequentialPatchCore

DEFAULT_RETRIES = 3  # attempts after a lost worker, per task


@dataclass
class DistributedReport:
    """What ``fit_distributed`` did: per-shard records and times, meld times, tree shape and wall time."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    shard_seconds: list[float] = field(default_factory=list)
    meld_seconds: list[float] = field(default_factory=list)
    fan_in: int = DEFAULT_FAN_IN
    tree_depth: int = 0
    gpus_per_task: float = 0.0
    seconds: float = 0.0

    @property
    def images(self) -> int:
        return sum(record["images"] for record in self.shards)


def fit_distributed(
    data: Sequence[Any],
    template: SequentialPatchCore | None = None,
    *,
    epochs: int = 5,
    workers: int = 2,
    shards: int | None = None,
    address: str | None = None,
    fan_in: int = DEFAULT_FAN_IN,
    augment: Any = None,
    retries: int = DEFAULT_RETRIES,
    progress: bool = True,
) -> tuple[SequentialPatchCore, DistributedReport]:
    """Fit ``template`` (unfitted; default ``SequentialPatchCore()``) on ``data`` through Ray.

    ``data`` is an indexable sequence (a ``Dataset``, a list of arrays or Samples) that pickles
    cheaply (datasets hold paths, tasks read the images). It is cut into ``shards`` (default
    ``workers``) contiguous blocks; each Ray task fits a copy of the template on one block (on a GPU
    when the cluster has them), and the shard models are melded in groups of ``fan_in`` into one.
    A task whose worker dies is rerun from the start of its shard (up to ``retries`` times), so each
    image is counted once. ``address``: a running cluster; without it, a local Ray of ``workers`` CPUs
    (or the one already initialised in this process).
    """
    template = template or SequentialPatchCore()
    if not isinstance(template, SequentialPatchCore):
        raise TypeError(f"template must be a SequentialPatchCore, got {type(template).__name__}")
    if template.banks is not None:
        raise ValueError("fit_distributed trains from scratch: give an unfitted template model")
    if epochs < 1 or workers < 1 or retries < 0:
        raise ValueError(f"epochs and workers must be >= 1 and retries >= 0, got {epochs}, {workers}, {retries}")
    tree_depth(1, fan_in)  # checks fan_in before any work
    blocks = shard_ranges(len(data), shards or workers)
    start = time.perf_counter()
    ray, started = connect(address, workers)
    try:
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        shard_task = ray.remote(fit_shard).options(num_returns=3, num_cpus=1, num_gpus=gpus, max_retries=retries,
                                                   **fault_options())
        meld_task = ray.remote(meld_blobs).options(num_returns=2, num_cpus=1, max_retries=retries)
        counter = ray.remote(ProgressCounter).options(num_cpus=0).remote()
        data_ref = ray.put(data)
        device = "cuda" if gpus else None
        refs = [shard_task.remote(template, data_ref, block, epochs, augment, counter, device) for block in blocks]
        _wait_with_bar(ray, [r[0] for r in refs], counter, len(data) * epochs, progress)
        meld_times: list[Any] = []

        def meld(group: Sequence[Any]) -> Any:
            blob, seconds = meld_task.remote(*group)
            meld_times.append(seconds)
            return blob

        final = reduce_tree([r[0] for r in refs], meld, fan_in)
        blob = ray.get(final)
        report = DistributedReport(
            shards=ray.get([r[1] for r in refs]), shard_seconds=ray.get([r[2] for r in refs]),
            meld_seconds=ray.get(meld_times), fan_in=fan_in, tree_depth=tree_depth(len(blocks), fan_in),
            gpus_per_task=gpus,
        )
    finally:
        if started:
            ray.shutdown()
    model = model_from_bytes(blob, device=template.device)
    model.history = [{"distributed": {"engine": "ray", "fan_in": fan_in, "tree_depth": report.tree_depth,
                                      "images": report.images, "shards": report.shards}}]
    report.seconds = time.perf_counter() - start
    return model, report


def _wait_with_bar(ray: Any, pending: list[Any], counter: Any, total: int, progress: bool) -> None:
    """Wait for every shard task, showing the counter's image passes on one bar; raises a task's error."""
    with tqdm(total=total, desc="distributed fit", unit="img", disable=not progress) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
            for ref in done:
                ray.get(ref)  # a task's own error (not a lost worker, which Ray retries) ends the fit here
            bar.n = min(ray.get(counter.total.remote()), total)
            bar.refresh()
