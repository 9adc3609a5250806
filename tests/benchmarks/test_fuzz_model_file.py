"""CI version of the model-file fuzzer: no crash, hang or foreign exception in any reader (the C++
Inspector included, through seqcore_inspect --check)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import fuzz_model_file as fuzz  # noqa: E402


def test_mutations_are_seeded_and_varied():
    base = fuzz.SEED_FILE.read_bytes()
    first = [fuzz.mutate(base, fuzz.random.Random(f"0:{i}")) for i in range(200)]
    assert first == [fuzz.mutate(base, fuzz.random.Random(f"0:{i}")) for i in range(200)]
    assert len({kind for kind, _ in first}) == 10 and all(data != base for _, data in first[:50])


@pytest.mark.parametrize("reader", ["cpp", "python_checks", "python"])
def test_readers_only_raise_model_file_or_value_errors(reader):
    """2 000 inputs for the C++ reader, for every check the Python loader runs before building the
    backbone, and for the whole loader (its worker builds each backbone once)."""
    inputs = 2000
    counts = fuzz.run(inputs, [reader], seed=20, timeout=30.0, progress=False)["readers"][reader]
    assert (counts["crashes"], counts["hangs"], counts["foreign_exceptions"]) == (0, 0, 0), counts["failures"]
    assert counts["model_file_errors"] + counts["value_errors"] > inputs // 3  # the mutations do reach the checks


def _stored_hash(model: bytes) -> str:
    return json.loads(fuzz._split(model)[0]["__metadata__"]["seqcore"])["export"]["onnx_sha256"]


def test_export_mutations_are_seeded_and_reach_every_file():
    """Every part of an export directory is damaged; ONNX damage refreshes the stored hash (so that
    OpenCV parses it) except for ``onnx_unhashed``."""
    header, body = fuzz._split(fuzz.SEED_FILE.read_bytes())
    meta = json.loads(header["__metadata__"]["seqcore"]) | {"export": {"onnx_sha256": "0" * 64, "stride": 8}}
    header["__metadata__"]["seqcore"] = json.dumps(meta)
    files = {"model.safetensors": fuzz._join(header, body), "extractor.onnx": bytes(range(256)) * 64}
    first = [fuzz.mutate_export(files, fuzz.random.Random(f"0:{i}")) for i in range(200)]
    assert first == [fuzz.mutate_export(files, fuzz.random.Random(f"0:{i}")) for i in range(200)]
    assert {kind.split("_")[0] for kind, _ in first} == {"model", "export", "onnx"}
    assert all(out != files for _, out in first)
    for kind, out in first:
        if kind in ("onnx_truncate", "onnx_bitflip", "onnx_splice", "onnx_unhashed"):
            fresh = hashlib.sha256(out["extractor.onnx"]).hexdigest() == _stored_hash(out["model.safetensors"])
            assert fresh == (kind != "onnx_unhashed"), kind
        if kind == "onnx_missing":
            assert "extractor.onnx" not in out


def test_inspector_only_raises_export_errors():
    """2 000 damaged export directories (model file, export metadata, ONNX bytes under a refreshed or
    stale hash, missing ONNX) through seqcore_inspect --check: no crash, hang or foreign exception."""
    if fuzz.inspect_tool() is None:
        pytest.skip("seqcore_inspect is not built (needs OpenCV's C++ package; scripts/run_tests.sh builds it)")
    pytest.importorskip("onnx", reason="the seed export needs the extra seqcore[export]")
    counts = fuzz.run(2000, [fuzz.INSPECTOR], seed=15, timeout=30.0, progress=False)["readers"][fuzz.INSPECTOR]
    assert counts["seed_outcome"] == "valid"
    assert (counts["crashes"], counts["hangs"], counts["foreign_exceptions"]) == (0, 0, 0), counts["failures"]
    assert counts["model_file_errors"] > 1000  # the mutations do reach the checks
    assert counts["by_mutation"].get("onnx_splice/model_file_error", 0) > 0  # OpenCV's parser refuses cleanly
