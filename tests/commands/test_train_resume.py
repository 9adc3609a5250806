"""`seqcore train --checkpoint DIR --resume`: SIGKILLed at 5 moments (mid-epoch, mid-checkpoint-save,
during calibration on --val, at a random time), resumed each time, the model file equals an
uninterrupted run's. The child kills itself at the named moment (deterministic on any machine)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import seqcore
from seqcore.cli import main

SETTINGS = ["--capacity", "20", "--epochs", "3", "--stop-fraction", "0", "--resize", "0", "--projection-dim", "16",
            "--blur-sigma", "2", "--seed", "3", "--val", "val"]  # a given σ: calibration only sets the threshold
KILL_ENV = "SEQCORE_TEST_KILL_AT"  # "save:N" (entering the N-th checkpoint save), "mid-save:N", "calibration"
RUN = """
import os, signal, sys
import seqcore.models
from seqcore.cli import main
from seqcore.models.patchcore import checkpoint

where, _, count = os.environ.get("SEQCORE_TEST_KILL_AT", "").partition(":")
calls = [0]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def counted(original, inside):
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(count) and not inside:
            die()
        return original(*args, **kwargs)
    return wrapper

if where == "save":
    checkpoint.FitCheckpoint.save = counted(checkpoint.FitCheckpoint.save, False)
elif where == "mid-save":
    replace = checkpoint._replace_atomically
    def half_written(path, write):
        calls[0] += 1
        if calls[0] == int(count):
            replace(path, lambda tmp: (write(tmp), die()))  # the temporary file is written, not renamed
        return replace(path, write)
    checkpoint._replace_atomically = half_written
elif where == "calibration":
    seqcore.models.calibrate = lambda *args, **kwargs: die()
sys.exit(main(sys.argv[1:]))
"""


def _surface(seed: int, defect: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    image = 120 + 30 * np.sin(xx / (3.0 + seed % 3)) + 20 * np.cos(yy / 4.0) + rng.normal(0, 6, (64, 64))
    if defect:
        image[24:36, 26:38] = 250
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mvtec") / "plate"
    for k in range(6):
        _save(root / "train" / "good" / f"{k:03d}.png", _surface(k))
    mask = np.zeros((64, 64), np.uint8)
    mask[24:36, 26:38] = 255
    for k in range(1):
        _save(root / "validation" / "good" / f"v{k}.png", _surface(10 + k))
        _save(root / "validation" / "crack" / f"v{k}.png", _surface(15 + k, defect=True))
        _save(root / "ground_truth" / "crack" / f"v{k}_mask.png", mask)
    return root


def _start(args: list[str], kill_at: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(seqcore.__file__).resolve().parents[1]), KILL_ENV: kill_at}
    return subprocess.Popen([sys.executable, "-c", RUN, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_killed_five_times_then_resumed_equals_an_uninterrupted_run(dataset, tmp_path):
    reference = tmp_path / "reference.safetensors"
    assert main(["train", "--dataset", "mvtec", str(dataset), "--out", str(reference), *SETTINGS]) == 0
    checkpoints, out = tmp_path / "ckpt", tmp_path / "resumed.safetensors"
    args = ["train", "--dataset", "mvtec", str(dataset), "--out", str(out), *SETTINGS,
            "--checkpoint", str(checkpoints), "--checkpoint-every", "1", "--cache-gb", "0"]
    moments = ["save:3", "mid-save:2", "save:5", "calibration"]  # the first: mid-epoch 1
    for index, kill_at in enumerate(moments):
        process = _start(args + (["--resume"] if index else []), kill_at)
        assert process.wait() == -signal.SIGKILL, f"{kill_at}: {process.stderr.read().decode()}"
        assert not out.exists()
    process = _start(args + ["--resume"])  # and once at a random moment
    time.sleep(np.random.default_rng(0).uniform(0.0, 2.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    final = _start(args + ["--resume"])
    assert final.wait() == 0, final.stderr.read().decode()
    assert out.read_bytes() == reference.read_bytes()

    other = _start(["train", "--dataset", "mvtec", str(dataset), "--out", str(out), *SETTINGS[:-4],
                    "--seed", "4", "--val", "val", "--checkpoint", str(checkpoints), "--resume"])
    assert other.wait() != 0 and b"other settings or data" in other.stderr.read()
