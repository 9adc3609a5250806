"""CI version of the model-file fuzzer: no crash, hang or foreign exception in any reader."""
from __future__ import annotations

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


@pytest.mark.parametrize("reader, inputs", [("cpp", 2000), ("python_checks", 2000), ("python", 10)])
def test_readers_only_raise_model_file_or_value_errors(reader, inputs):
    """2 000 inputs for the C++ reader and for every check the Python loader runs before building the
    backbone; a few for the whole loader (each valid file builds a model)."""
    counts = fuzz.run(inputs, [reader], seed=20, timeout=30.0, progress=False)["readers"][reader]
    assert (counts["crashes"], counts["hangs"], counts["foreign_exceptions"]) == (0, 0, 0), counts["failures"]
    assert counts["model_file_errors"] + counts["value_errors"] > inputs // 3  # the mutations do reach the checks
