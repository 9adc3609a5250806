"""What one Ray task does: fit a copy of the template model on one shard and return it as bytes."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from seqcore.distributed.faults import fault_hook
from seqcore.distributed.progress import Reporter
from seqcore.distributed.shards import Shard, ShardView
from seqcore.distributed.transport import model_from_bytes, model_to_bytes
from seqcore.models.patchcore import SequentialPatchCore


def fit_shard(template: SequentialPatchCore, data: Sequence[Any], shard: Shard, epochs: int, augment: Any,
              counter: Any = None, device: str | None = None) -> tuple[bytes, dict[str, Any], float]:
    """(model bytes, shard record, seconds): ``template`` (unfitted) fitted on ``data[shard.start:shard.stop]``.

    The record (the model's only history entry) names the shard, its index range and the images
    used, and the fit report without its time, so equal inputs give byte-identical models.
    """
    start = time.perf_counter()
    if device is not None:
        template.device = device
    reporter = Reporter(counter, shard.index, len(shard) * epochs)
    kill = fault_hook(shard.index, len(shard))
    if kill is None:
        on_image = reporter
    else:
        def on_image() -> None:
            reporter()
            kill(reporter.seen)
    view = ShardView(data, shard, on_image)
    report = template.fit(view, epochs=epochs, augment=augment, progress=False)
    reporter.finish()
    record = {"shard": shard.index, "start": shard.start, "stop": shard.stop,
              "images": len(shard) - len(view.skipped), "skipped": sorted(view.skipped),
              **{k: v for k, v in report.to_dict().items() if k != "seconds"}}
    template.history = [record]
    return model_to_bytes(template), record, time.perf_counter() - start


def meld_blobs(*blobs: bytes) -> tuple[bytes, float]:
    """(bytes, seconds) of the models in ``blobs`` melded in order (the first is the base)."""
    start = time.perf_counter()
    melded = SequentialPatchCore.meld([model_from_bytes(blob) for blob in blobs])
    return model_to_bytes(melded), time.perf_counter() - start
