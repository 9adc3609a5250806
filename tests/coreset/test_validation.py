"""Bad input gets a clear exception naming the problem; convertible input is converted."""
from __future__ import annotations

import numpy as np
import pytest

from seqcore.coreset import SequentialCoreset, greedy_kcenter
from seqcore.coreset.reference import ReferenceCoreset


@pytest.mark.parametrize("cls", [SequentialCoreset, ReferenceCoreset])
@pytest.mark.parametrize(
    ("capacity", "dim", "match"),
    [(0, 3, "capacity"), (-1, 3, "capacity"), (4, 0, "dim"), (2.5, 3, "capacity"), (True, 3, "capacity")],
)
def test_bad_sizes(cls: type, capacity: object, dim: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls(capacity, dim)


@pytest.mark.parametrize("cls", [SequentialCoreset, ReferenceCoreset])
@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (np.zeros((3, 4), np.int64), "float array"),
        (np.zeros((3, 4), bool), "float array"),
        (np.array([[None] * 4], object), "float array"),
        (np.zeros(4, np.float32), "shape"),
        (np.zeros((2, 3, 4), np.float32), "shape"),
        (np.zeros((3, 5), np.float32), "dimension 5, expected 4"),
        (np.array([[0, 0, np.nan, 0]], np.float32), "NaN or inf"),
        (np.array([[0, 0, np.inf, 0]]), "NaN or inf"),
        (np.array([[0, 0, 1e39, 0]]), "NaN or inf"),  # overflows float32
    ],
)
def test_bad_batches(cls: type, batch: np.ndarray, match: str) -> None:
    core = cls(4, 4)
    with pytest.raises(ValueError, match=match):
        core.offer_batch(batch)
    with pytest.raises(ValueError, match=match):
        core.query(batch)


def test_bad_single_offer() -> None:
    core = SequentialCoreset(4, 4)
    with pytest.raises(ValueError, match="shape"):
        core.offer(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="dimension"):
        core.offer(np.zeros(3))
    with pytest.raises(ValueError, match="chunk_size"):
        core.query(np.zeros((1, 4), np.float32), chunk_size=0)


def test_other_float_layouts_are_converted() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16))  # float64, converted to float32
    base = SequentialCoreset(10, 8)
    base.offer_batch(x[:, ::2].astype(np.float32))
    for variant in (x[:, ::2], np.asfortranarray(x[:, ::2]), x[:, ::2].astype(np.float16).astype(np.float32)):
        core = SequentialCoreset(10, 8)
        core.offer_batch(variant)
        if variant.dtype == np.float64:
            np.testing.assert_array_equal(core.points, base.points)
        assert core.points.dtype == np.float32 and core.points.flags.c_contiguous


def test_devices() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        SequentialCoreset(4, 4, device="tpu")
    try:
        import seqcore._cuda  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="seqcore._cuda"):
            SequentialCoreset(4, 4, device="cuda")
    assert SequentialCoreset(4, 4).device == "cpu"


def test_greedy_bad_input() -> None:
    with pytest.raises(ValueError, match="k must"):
        greedy_kcenter(np.zeros((5, 2), np.float32), 0)
    with pytest.raises(ValueError, match="projection_dim"):
        greedy_kcenter(np.zeros((5, 2), np.float32), 2, projection_dim=0)
    with pytest.raises(ValueError, match="at least one row"):
        greedy_kcenter(np.zeros((0, 2), np.float32), 2)
    with pytest.raises(ValueError, match="float array"):
        greedy_kcenter(np.zeros((5, 2), np.int32), 2)
