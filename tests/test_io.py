"""Model file round trips (Python -> file -> Python and -> C++) and clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import seqcore
from seqcore import _core
from seqcore.io import FORMAT, ModelFileError, load_model, save_model

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = next(
    (p for p in (REPO / "build" / b / "cpp" / "seqcore_score_points" for b in ("dev", "cpp")) if p.exists()),
    REPO / "build" / "cpp" / "cpp" / "seqcore_score_points",
)


@pytest.fixture
def model_file(tmp_path: Path) -> tuple[Path, np.ndarray, dict]:
    coreset = np.random.default_rng(0).standard_normal((50, 152)).astype(np.float32)
    metadata = {"backbone": "tf_efficientnet_lite0", "threshold": 1.25, "name": 'über "q"', "layers": [2, 3]}
    path = tmp_path / "model.safetensors"
    save_model(path, {"coreset": coreset, "threshold": np.array([1.25])}, metadata)
    return path, coreset, metadata


def test_python_round_trip(model_file: tuple[Path, np.ndarray, dict]) -> None:
    path, coreset, metadata = model_file
    tensors, meta = load_model(path)
    np.testing.assert_array_equal(tensors["coreset"], coreset)
    np.testing.assert_array_equal(tensors["threshold"], [1.25])
    assert meta == metadata


def test_cpp_reads_python_file(model_file: tuple[Path, np.ndarray, dict]) -> None:
    path, coreset, metadata = model_file
    points, metadata_json, header = _core.read_model(str(path))
    np.testing.assert_array_equal(points, coreset)
    assert json.loads(metadata_json) == metadata
    assert header["format"] == FORMAT


@pytest.mark.skipif(not EXAMPLE.exists(), reason="C++ example not built (scripts/dev_build.sh or build/cpp)")
def test_cpp_example_scores_python_file(tmp_path: Path) -> None:
    coreset = np.array([[0, 0], [10, 0]], np.float32)
    path = tmp_path / "m.safetensors"
    save_model(path, {"coreset": coreset}, {})
    out = subprocess.run([str(EXAMPLE), str(path)], input="3 4\n10 1\n", capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "0", "1", "1"]


def test_float64_coreset_is_stored_as_float32(tmp_path: Path) -> None:
    save_model(tmp_path / "m.safetensors", {"coreset": np.ones((2, 3))}, {})
    assert load_model(tmp_path / "m.safetensors")[0]["coreset"].dtype == np.float32


@pytest.mark.parametrize(
    ("tensors", "metadata", "match"),
    [
        ({"other": np.ones((2, 2), np.float32)}, {}, "coreset"),
        ({"coreset": np.ones(4, np.float32)}, {}, "2-D float"),
        ({"coreset": np.ones((2, 2), np.int32)}, {}, "2-D float"),
        ({"coreset": np.full((2, 2), np.nan, np.float32)}, {}, "NaN"),
        ({"coreset": np.ones((2, 2), np.float32)}, {"x": object()}, "JSON"),
    ],
)
def test_save_rejects_bad_input(tmp_path: Path, tensors: dict, metadata: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        save_model(tmp_path / "m.safetensors", tensors, metadata)


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    files = {
        "missing": tmp_path / "missing.safetensors",
        "truncated": tmp_path / "truncated.safetensors",
        "header_only": tmp_path / "header_only.safetensors",
        "garbage": tmp_path / "garbage.safetensors",
        "foreign": tmp_path / "foreign.safetensors",
        "version": tmp_path / "version.safetensors",
    }
    files["truncated"].write_bytes(data[:-7])
    files["header_only"].write_bytes(data[:5])
    files["garbage"].write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    save_file({"coreset": np.ones((2, 2), np.float32)}, str(files["foreign"]), metadata={"format": "pt"})
    save_file({"coreset": np.ones((2, 2), np.float32)}, str(files["version"]),
              metadata={"format": FORMAT, "format_version": "999", "seqcore": "{}"})
    return files


@pytest.mark.parametrize(
    ("kind", "match"),
    [("missing", "not found|cannot open"), ("truncated", "truncated"), ("header_only", "truncated"),
     ("garbage", "safetensors"), ("foreign", "foreign"), ("version", "version")],
)
def test_bad_files_raise_clear_errors(model_file: tuple[Path, np.ndarray, dict], tmp_path: Path,
                                      kind: str, match: str) -> None:
    path = _bad_files(tmp_path, model_file[0])[kind]
    with pytest.raises(ModelFileError, match=match):
        load_model(path)
    with pytest.raises(ModelFileError, match=match):  # the C++ reader raises the same class
        _core.read_model(str(path))


def test_importing_io_does_not_load_the_compiled_core() -> None:
    code = ("import sys, seqcore.io; assert 'seqcore._core' not in sys.modules; "
            "from seqcore.io import ModelFileError; assert ModelFileError.__module__ == 'seqcore.errors'")
    package_parent = Path(seqcore.__file__).resolve().parents[1]  # the seqcore under test, installed or in place
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_unknown_attributes_of_io_raise_attribute_error() -> None:
    import seqcore.io

    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        seqcore.io.Missing  # noqa: B018
