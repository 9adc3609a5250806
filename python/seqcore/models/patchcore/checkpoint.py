"""Atomic checkpoints of a sequential fit, so a killed ``seqcore train`` resumes (docs/design.md §17).

A checkpoint (``checkpoint.npz``) holds each bank's points in slot order (a coreset rebuilt from
them decides exactly as the original), the fit state (epoch, next image position, the epoch's
counts so far, settled banks), the report so far, the augmentation's RNG state and a hash of the
settings and the data; ``fitted.safetensors`` is the model once the fit is done. Both are written
to a temporary file and renamed, so a kill leaves the previous one intact.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from seqcore.models.patchcore.strategies import FitReport, FitState

STATE_FILE = "checkpoint.npz"
FITTED_FILE = "fitted.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: other settings or data, or a damaged file."""


def data_fingerprint(data: Iterable) -> dict[str, Any]:
    """What identifies the training data: file names, sizes and times of a dataset, the bytes of a
    list of arrays, else only the length."""
    entries = getattr(data, "entries", None)
    digest = hashlib.sha256()
    if entries is not None:
        for entry in entries:
            path = getattr(entry, "image_path", None)
            stat = os.stat(path) if path is not None and os.path.exists(path) else None
            digest.update(repr((entry.name, str(path), stat and stat.st_size, stat and stat.st_mtime_ns)).encode())
        return {"images": len(entries), "files": digest.hexdigest()}
    if isinstance(data, (list, tuple)) and all(isinstance(item, np.ndarray) for item in data):
        for item in data:
            digest.update(repr((item.shape, item.dtype.str)).encode())
            digest.update(np.ascontiguousarray(item).tobytes())
        return {"images": len(data), "arrays": digest.hexdigest()}
    return {"images": len(data) if hasattr(data, "__len__") else None}


def _hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, fsync, then rename onto it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class FitCheckpoint:
    """Checkpoints of one fit in ``directory``, every ``every`` images; ``resume`` continues from one.

    ``settings`` (with ``data_fingerprint(data)``) must match the checkpoint's, else CheckpointError;
    ``rng`` is the augmentation's generator, whose state is saved and restored.
    """

    def __init__(self, directory: str | Path, every: int, settings: dict[str, Any], data: Iterable,
                 resume: bool = False, rng: np.random.Generator | None = None) -> None:
        if every < 1:
            raise ValueError(f"--checkpoint-every must be >= 1 image, got {every}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.every = int(every)
        self.resume = resume
        self.rng = rng
        self.fingerprint = _hash({"settings": settings, "data": data_fingerprint(data)})
        self._fit_fingerprint = self.fingerprint
        for stale in self.directory.glob(".*.tmp"):  # left by a kill during a save
            stale.unlink()
        if not resume and ((self.directory / STATE_FILE).exists() or (self.directory / FITTED_FILE).exists()):
            raise CheckpointError(f"{self.directory} already holds a checkpoint: pass --resume to continue "
                                  "from it, or use an empty directory")

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def bind(self, model_settings: dict[str, Any]) -> None:
        """Add the model's own settings (and any fine-tuning start) to what a fit checkpoint must match."""
        self._fit_fingerprint = _hash({"base": self.fingerprint, "model": model_settings})

    def _read(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        if not self.resume or not self.state_path.exists():
            return None
        try:
            with np.load(self.state_path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
            meta = json.loads(bytes(arrays.pop("meta")).decode())
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{self.state_path}: unreadable checkpoint ({exc})") from exc
        if meta.get("fingerprint") != self.fingerprint:
            raise CheckpointError(
                f"{self.state_path} was written for other settings or data; resume with the same "
                "command and data, or use an empty --checkpoint directory")
        return meta, arrays

    def restore(self, report: FitReport, device: str) -> tuple[FitState, list] | None:
        """The fit state and coresets of the last checkpoint (None: start afresh); fills ``report``."""
        from seqcore.coreset import SequentialCoreset

        found = self._read()
        if found is None:
            return None
        meta, arrays = found
        if meta.get("fit_fingerprint") != self._fit_fingerprint:
            raise CheckpointError(f"{self.state_path} was written for another model configuration")
        state = FitState(**meta["state"])
        report.replacements = list(meta["report"]["replacements"])
        report.bank_replacements = [list(r) for r in meta["report"]["bank_replacements"]]
        report.patches = list(meta["report"]["patches"])
        banks = [SequentialCoreset.from_points(arrays[f"bank_{b}"], capacity=meta["capacity"], device=device)
                 if len(arrays[f"bank_{b}"]) else SequentialCoreset(meta["capacity"], meta["dim"], device)
                 for b in range(meta["banks"])]
        if self.rng is not None and meta.get("rng") is not None:
            self.rng.bit_generator.state = meta["rng"]
        return state, banks

    def save(self, state: FitState, coresets: list, report: FitReport) -> None:
        """Write the checkpoint atomically."""
        meta = {
            "fingerprint": self.fingerprint,
            "fit_fingerprint": self._fit_fingerprint,
            "state": {"epoch": state.epoch, "active": state.active, "reasons": state.reasons,
                      "position": state.position, "replaced": state.replaced, "offered": state.offered},
            "report": {"replacements": report.replacements, "bank_replacements": report.bank_replacements,
                       "patches": report.patches},
            "capacity": coresets[0].capacity, "dim": coresets[0].dim, "banks": len(coresets),
            "rng": None if self.rng is None else self.rng.bit_generator.state,
        }
        arrays = {f"bank_{b}": np.asarray(c.points, np.float32) for b, c in enumerate(coresets)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        _replace_atomically(self.state_path, write)

    def saver(self, report: FitReport) -> Callable[[FitState, list], None]:
        """The ``on_image`` hook of ``Sequential.train_images``: a checkpoint every ``every`` images
        and at the end of every epoch."""
        images = [0]

        def on_image(state: FitState, coresets: list) -> None:
            if state.position == 0:  # an epoch just ended
                self.save(state, coresets, report)
                return
            images[0] += 1
            if images[0] % self.every == 0:
                self.save(state, coresets, report)

        return on_image

    # -- after the fit ----------------------------------------------------------------------
    def save_fitted(self, model: Any) -> None:
        """Keep the fitted model (before calibration), so a kill after the fit does not redo it."""
        _replace_atomically(self.directory / FITTED_FILE, lambda tmp: model.save(tmp))
        _replace_atomically(self.directory / "fitted.json",
                            lambda tmp: tmp.write_text(json.dumps({"fingerprint": self.fingerprint})))

    def load_fitted(self, load: Callable[[Path], Any]) -> Any | None:
        """The model ``save_fitted`` kept (read by ``load``), None when there is none or not resuming."""
        marker = self.directory / "fitted.json"
        if not self.resume or not marker.exists() or not (self.directory / FITTED_FILE).exists():
            return None
        if json.loads(marker.read_text()).get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"{self.directory / FITTED_FILE} was fitted with other settings or data")
        return load(self.directory / FITTED_FILE)
