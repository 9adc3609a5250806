"""check_onnx_file through seqcore_inspect --check: a real export loads; copies of its ONNX graph
damaged in the ways fuzzing crashed OpenCV's importer (and a few more) are refused with the node and
field named, under a refreshed hash so that only the structural check stands between them and OpenCV."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from seqcore import FeatureConfig, SequentialPatchCore
from seqcore.io import load_model, save_model

onnx = pytest.importorskip("onnx", reason="export needs the extra seqcore[export]")
from onnx import helper  # noqa: E402

from .test_inspect_parity import _tool  # noqa: E402


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    model = SequentialPatchCore(FeatureConfig(resize_short_side=64), capacity=32)
    model.fit([rng.integers(0, 256, (64, 80, 3), dtype=np.uint8) for _ in range(2)], epochs=1, progress=False)
    return model.export(tmp_path_factory.mktemp("onnx_check") / "export")


def _first(graph, op: str):
    return next(n for n in graph.node if n.op_type == op)


def _attribute(node, name: str):
    return next(a for a in node.attribute if a.name == name)


def _strides_zero(g):
    _attribute(_first(g, "Conv"), "strides").ints[:] = [0, 1]


def _undefined_weight(g):
    _first(g, "Conv").input[1] = "backbone.missing.weight"


def _misspelt_attribute(g):
    _attribute(_first(g, "Conv"), "dilations").name = "dilathons"


def _out_of_order(g):
    nodes = list(g.node)
    nodes[0], nodes[1] = nodes[1], nodes[0]
    del g.node[:]
    g.node.extend(nodes)


def _unknown_op(g):
    _first(g, "Relu").op_type = "Bogus"


def _kernel_mismatch(g):
    _attribute(_first(g, "Conv"), "kernel_shape").ints[:] = [5, 5]


def _negative_pad(g):
    _attribute(_first(g, "Conv"), "pads").ints[:] = [1, 1, -1, 1]


def _initializer_size(g):
    g.initializer[0].dims.append(2)


def _resize_mode(g):
    _attribute(_first(g, "Resize"), "mode").s = b"bogus"


def _group(g):
    conv = _first(g, "Conv")
    _attribute(conv, "group").i = 7


def _foreign_domain(g):
    _first(g, "Relu").domain = "com.example"


def _subgraph_attribute(g):
    _first(g, "Relu").attribute.append(helper.make_attribute("body", helper.make_graph([], "b", [], [])))


DAMAGE: dict[str, tuple[Callable, str]] = {  # name: (damage to the graph, part of the expected message)
    "strides_zero": (_strides_zero, "attribute 'strides' must hold 2 positive values"),
    "undefined_weight": (_undefined_weight, "'backbone.missing.weight' is not defined before the node"),
    "misspelt_attribute": (_misspelt_attribute, "unknown attribute 'dilathons'"),
    "out_of_order": (_out_of_order, "is not defined before the node"),
    "unknown_op": (_unknown_op, "op type 'Bogus' is not one a seqcore export writes"),
    "kernel_mismatch": (_kernel_mismatch, "kernel_shape differs from its weight's shape"),
    "negative_pad": (_negative_pad, "attribute 'pads' must hold 4 values >= 0"),
    "initializer_size": (_initializer_size, "values for"),
    "resize_mode": (_resize_mode, "attribute 'mode' has the unknown value 'bogus'"),
    "group": (_group, "group 7 does not divide"),
    "foreign_domain": (_foreign_domain, "foreign domain 'com.example'"),
    "subgraph_attribute": (_subgraph_attribute, "unknown attribute 'body'"),
}


def _rehashed_copy(export: Path, out: Path, onnx_bytes: bytes) -> Path:
    """The export with ``onnx_bytes`` as its graph and the stored hash refreshed to match."""
    shutil.copytree(export, out)
    (out / "extractor.onnx").write_bytes(onnx_bytes)
    tensors, meta = load_model(out / "model.safetensors")
    meta["export"]["onnx_sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    save_model(out / "model.safetensors", tensors, meta)
    return out


def _check(dirs: list[Path]) -> list[list[str]]:
    run = subprocess.run([str(_tool()), "--check", "-"], input="".join(f"{d}\n" for d in dirs),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr  # a signal would be negative
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    assert len(lines) == len(dirs), run.stdout
    return lines


def test_damaged_graphs_are_refused_with_the_node_named(export, tmp_path):
    dirs = [export]
    for name, (damage, _) in DAMAGE.items():
        model = onnx.load(str(export / "extractor.onnx"))
        damage(model.graph)
        dirs.append(_rehashed_copy(export, tmp_path / name, model.SerializeToString()))
    lines = _check(dirs)
    assert lines[0][0] == "ok", lines[0]
    for (name, (_, message)), (outcome, _, detail) in zip(DAMAGE.items(), lines[1:], strict=True):
        assert outcome == "export_error" and "is malformed" in detail and message in detail, (name, detail)


def test_byte_damage_is_refused_before_opencv(export, tmp_path):
    """Raw byte damage that protobuf's own parser takes: a name that is no longer UTF-8, a broken
    length, a truncated file."""
    data = (export / "extractor.onnx").read_bytes()
    weight = onnx.load(str(export / "extractor.onnx")).graph.node[2].input[1].encode()
    at = data.index(weight)  # the first use of the stem's weight name: a node input
    cases = {
        "utf8": data[:at] + b"\xee" + data[at + 1:],
        "truncated": data[: len(data) // 3],
        "length": data[:1] + b"\xff\xff\xff\xff\x0f" + data[2:],
    }
    lines = _check([_rehashed_copy(export, tmp_path / name, blob) for name, blob in cases.items()])
    for name, (outcome, _, detail) in zip(cases, lines, strict=True):
        assert outcome == "export_error" and "is malformed" in detail, (name, detail)
    assert "not UTF-8" in lines[0][2] or "not defined" in lines[0][2]
