"""Model files under stress: atomic save (full disk, unwritable folder, concurrent readers and
writers) and thread-safe predict."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import seqcore
from seqcore import _core
from seqcore.io import load_model, save_model

PACKAGE_PARENT = str(Path(seqcore.__file__).resolve().parents[1])  # the seqcore under test
FIXTURE = Path(__file__).parent / "models" / "fixtures" / "patchcore_0.1.0_projection.safetensors"


def _model(tag: int) -> tuple[dict[str, np.ndarray], dict]:
    """A model whose every coreset value and metadata tag is ``tag`` (so a mix of two is visible)."""
    return {"coreset": np.full((64 + tag, 96), float(tag), np.float32)}, {"tag": tag, "pad": "x" * (100 * tag)}


def _is_one_complete_model(tensors: dict[str, np.ndarray], meta: dict) -> bool:
    expected, expected_meta = _model(meta["tag"])
    return meta == expected_meta and np.array_equal(tensors["coreset"], expected["coreset"])


def test_full_disk_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_model(path, *_model(1))
    before = path.read_bytes()

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match=r"cannot write model file .*model\.safetensors: No space left") as info:
        save_model(path, *_model(2))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temporary file left


def test_missing_or_unwritable_folder_names_the_path(tmp_path):
    with pytest.raises(OSError, match=r"cannot write model file .*nowhere.*model\.safetensors"):
        save_model(tmp_path / "nowhere" / "model.safetensors", *_model(1))
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions; the read-only case cannot be shown")
    folder = tmp_path / "ro"
    folder.mkdir()
    save_model(folder / "model.safetensors", *_model(1))
    before = (folder / "model.safetensors").read_bytes()
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError, match="cannot write model file"):
            save_model(folder / "model.safetensors", *_model(2))
    finally:
        folder.chmod(0o700)
    assert (folder / "model.safetensors").read_bytes() == before


def _spawn(code: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


WRITER = """
import numpy as np
from seqcore.io import save_model
path, tags, rounds = {path!r}, {tags!r}, {rounds}
for i in range(rounds):
    tag = tags[i % len(tags)]
    points = np.full((64 + tag, 96), float(tag), np.float32)
    save_model(path, {{"coreset": points}}, {{"tag": tag, "pad": "x" * (100 * tag)}})
"""


def test_a_reader_sees_the_old_or_the_new_model_never_a_torn_one(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(path, *_model(1))
    writer = _spawn(WRITER.format(path=str(path), tags=[2, 3, 1], rounds=300))
    seen, reads = set(), 0
    while writer.poll() is None or reads < 50:
        tensors, meta = load_model(path)
        assert _is_one_complete_model(tensors, meta)
        points, metadata_json, _ = _core.read_model(str(path))
        assert points.shape[0] == 64 + json.loads(metadata_json)["tag"]
        seen.add(meta["tag"])
        reads += 1
    assert writer.wait() == 0
    assert len(seen) >= 2, "the reader never saw the file replaced"


def test_two_writers_to_one_path_leave_one_complete_model(tmp_path):
    path = tmp_path / "model.safetensors"
    writers = [_spawn(WRITER.format(path=str(path), tags=tags, rounds=100)) for tags in ([4], [5])]
    assert [w.wait() for w in writers] == [0, 0]
    tensors, meta = load_model(path)
    assert meta["tag"] in (4, 5) and _is_one_complete_model(tensors, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_predict_from_several_threads_equals_sequential_calls():
    from seqcore import SequentialPatchCore

    model = SequentialPatchCore.load(FIXTURE)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (64, 80), dtype=np.uint8) for _ in range(8)]
    sequential = [model.predict(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(model.predict, images * 2))
    for expected, got in zip(sequential * 2, threaded, strict=True):
        np.testing.assert_array_equal(got.anomaly_map, expected.anomaly_map)
        assert got.score == expected.score
