"""seqcore.distributed on a local 2-CPU Ray: sharding, the meld tree, equality with an in-process
reference, per-shard image counts, and a killed task that still yields the byte-identical model."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.distributed import meld_tree, shard_ranges, tree_depth
from seqcore.distributed.faults import FAULT_ENV
from seqcore.distributed.meld_tree import reduce_tree
from seqcore.distributed.shards import ShardView
from seqcore.distributed.transport import model_to_bytes
from seqcore.features import FeatureConfig
from seqcore.models.patchcore import SequentialPatchCore

EPOCHS = 2


def template() -> SequentialPatchCore:
    return SequentialPatchCore(FeatureConfig(resize_short_side=None), capacity=24, scales=(3, 1))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(7)]


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray (seqcore[distributed]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize(("count", "shards"), [(1, 1), (7, 3), (10, 4), (3, 5), (64, 8)])
def test_shards_cover_every_index_once(count: int, shards: int) -> None:
    blocks = shard_ranges(count, shards)
    covered = [i for b in blocks for i in range(b.start, b.stop)]
    assert covered == list(range(count))
    assert len(blocks) == min(count, shards)
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    assert shard_ranges(count, shards) == blocks


def test_shards_reject_nothing_to_do() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        shard_ranges(0, 2)
    with pytest.raises(ValueError, match="shards must be >= 1"):
        shard_ranges(5, 0)


@pytest.mark.parametrize(("count", "fan_in"), [(1, 2), (2, 2), (5, 2), (9, 3), (17, 4), (64, 4)])
def test_reduce_tree_keeps_order_and_depth(count: int, fan_in: int) -> None:
    levels: list[int] = []

    def join(group):
        levels.append(max(level for level, _ in group) + 1)
        return levels[-1], "".join(text for _, text in group)

    items = [(0, chr(65 + i % 26)) for i in range(count)]
    depth, text = reduce_tree(items, join, fan_in)
    assert text == "".join(t for _, t in items)
    assert depth == tree_depth(count, fan_in) == (0 if count == 1 else int(np.ceil(np.log(count) / np.log(fan_in))))


def in_process_reference(images, shards: int, fan_in: int) -> SequentialPatchCore:
    """The same shards fitted and melded in this process, without Ray."""
    models = []
    for block in shard_ranges(len(images), shards):
        model = template()
        model.fit(ShardView(images, block), epochs=EPOCHS, progress=False)
        models.append(model)
    return meld_tree(models, fan_in)


@pytest.fixture(scope="module")
def clean_fit(ray_local, images):
    """A fault-free Ray fit on 3 shards melded with fan-in 2 (a tree of depth 2)."""
    from seqcore.distributed import fit_distributed

    return fit_distributed(images, template(), epochs=EPOCHS, workers=2, shards=3, fan_in=2, progress=False)


def test_ray_fit_equals_in_process_shards_and_meld(clean_fit, images) -> None:
    model, report = clean_fit
    reference = in_process_reference(images, 3, 2)
    for got, want in zip(model.banks, reference.banks, strict=True):
        np.testing.assert_array_equal(got.points, want.points)
    assert model.nominal_scales == reference.nominal_scales
    assert report.tree_depth == 2 and len(report.meld_seconds) == 2
    record = model.history[0]["distributed"]
    assert [(s["start"], s["stop"], s["images"]) for s in record["shards"]] == [(0, 3, 3), (3, 5, 2), (5, 7, 2)]
    assert record["images"] == len(images)
    assert model.predict(images[0]).anomaly_map.shape == images[0].shape[:2]


def test_killed_task_is_retried_to_the_same_model(clean_fit, images, tmp_path, monkeypatch) -> None:
    from seqcore.distributed import fit_distributed

    marker = tmp_path / "killed"
    monkeypatch.setenv(FAULT_ENV, f"1:{marker}")
    faulty, report = fit_distributed(images, template(), epochs=EPOCHS, workers=2, shards=3, fan_in=2, progress=False)
    assert marker.exists(), "the fault hook never fired"
    assert model_to_bytes(faulty) == model_to_bytes(clean_fit[0])
    assert [s["images"] for s in report.shards] == [3, 2, 2] and report.images == len(images)


def test_fit_distributed_rejects_a_fitted_template(ray_local, images) -> None:
    from seqcore.distributed import fit_distributed

    model = template()
    model.fit(images[:2], epochs=1, progress=False)
    with pytest.raises(ValueError, match="unfitted template"):
        fit_distributed(images, model)


def test_train_command_distributed(ray_local, images, tmp_path) -> None:
    import cv2

    from seqcore.cli import main

    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images[:4]):
        cv2.imwrite(str(folder / f"{i}.png"), image)
    out = tmp_path / "m.safetensors"
    argv = ["train", str(folder), "--out", str(out), "--capacity", "16", "--epochs", "1", "--resize", "0",
            "--distributed", "ray", "--workers", "2"]
    assert main(argv) == 0
    record = SequentialPatchCore.load(out).history[0]["distributed"]
    assert record["images"] == 4 and [s["images"] for s in record["shards"]] == [2, 2]


def test_missing_ray_says_how_to_install(monkeypatch) -> None:
    import sys

    from seqcore.distributed import RayMissingError
    from seqcore.distributed.ray_runtime import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayMissingError, match=r"seqcore\[distributed\]"):
        require_ray()
