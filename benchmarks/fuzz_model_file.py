"""Fuzz the model-file readers with seeded mutations of a real model file (issue 20).

Each reader runs in its own worker process that is reused across inputs; an input that kills
the worker counts as a crash, one that takes longer than ``--timeout`` seconds as a hang (the
worker is restarted either way). An exception other than ModelFileError / ValueError is a
foreign exception. Mutations: truncation, bit flips, header length, tensor offsets, dtype and
shape, and damage to the metadata JSON (layer indices, NaN, wrong types, deleted keys, bad
UTF-8). Counts go to ``benchmarks/results/fuzz_model_file.json``.

    python benchmarks/fuzz_model_file.py --inputs 100000            # every reader
    python benchmarks/fuzz_model_file.py --inputs 2000 --reader cpp

Readers are registered in ``READERS`` (name -> callable taking a path). The C++ ``Inspector``
(reader ``inspector``, issue 15) joins when ``seqcore_inspect`` is built: its worker is
``seqcore_inspect --check -`` and its inputs are exported model directories (``seqcore export``)
whose model file, ONNX file or ONNX hash is damaged (``mutate_export``); valid ONNX bytes under
a refreshed hash reach OpenCV's ONNX parser.

    python benchmarks/fuzz_model_file.py --inputs 2000 --reader inspector [--export-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_FILE = REPO / "tests" / "models" / "fixtures" / "patchcore_0.1.0_projection.safetensors"
RESULTS = REPO / "benchmarks" / "results" / "fuzz_model_file.json"


# -- readers (run inside the worker) ---------------------------------------------------------
def _read_cpp(path: str) -> None:
    from seqcore import _core

    _core.read_model(path)


def _read_python(path: str) -> None:
    from seqcore import SequentialPatchCore

    SequentialPatchCore.load(path)


def _read_python_checks(path: str) -> None:
    """What SequentialPatchCore.load runs before it builds anything: file, metadata and tensor checks."""
    from seqcore.io import load_model
    from seqcore.models.schema import PatchCoreMetadata

    tensors, meta = load_model(path)
    PatchCoreMetadata.from_dict(meta).check_tensors(tensors)


# Register further readers here (name -> callable(path)); "inspector" joins in available_readers()
READERS: dict[str, Callable[[str], None]] = {"cpp": _read_cpp, "python": _read_python,
                                             "python_checks": _read_python_checks}
INSPECTOR = "inspector"  # the C++ Inspector, run as its own worker process (seqcore_inspect --check -)


def inspect_tool() -> Path | None:
    """The built seqcore_inspect ($SEQCORE_INSPECT, else build/cpp or build/dev), or None."""
    for path in [os.environ.get("SEQCORE_INSPECT"), REPO / "build/cpp/cpp/seqcore_inspect",
                 REPO / "build/dev/cpp/seqcore_inspect"]:
        if path and Path(path).is_file():
            return Path(path)
    return None


def available_readers() -> list[str]:
    """Registered readers, plus the C++ Inspector when seqcore_inspect is built (OpenCV's C++ package)."""
    return list(READERS) + ([INSPECTOR] if inspect_tool() else [])


def _cache_backbones() -> None:
    """Build and fold each backbone once per worker and hand the same module out again: a valid
    mutated file then costs its checks and coreset instead of a backbone build (0.7 s), while every
    check of the loader still runs per input (a key that fails to build is never cached)."""
    from seqcore.features import extractor

    built: dict[tuple, object] = {}
    folded: dict[int, tuple] = {}
    create, fold = extractor.create_backbone, extractor.fold_batch_norms

    def cached_create(name: str, out_indices: tuple[int, ...], pretrained: bool = True):
        key = (name, tuple(out_indices), pretrained)
        if key not in built:
            built[key] = create(name, out_indices, pretrained)
        return built[key]

    def cached_fold(model):
        if id(model) not in folded:
            folded[id(model)] = fold(model)
        return folded[id(model)]

    extractor.create_backbone, extractor.fold_batch_norms = cached_create, cached_fold


def worker(reader: str) -> None:
    """Read one path per stdin line; answer one JSON line per input with the outcome."""
    from seqcore.errors import ModelFileError

    read = READERS[reader]
    if reader == "python":
        _cache_backbones()
    for line in sys.stdin:
        try:
            read(line.rstrip("\n"))
            outcome = "valid"
        except ModelFileError:
            outcome = "model_file_error"
        except ValueError:
            outcome = "value_error"
        except Exception as exc:  # noqa: BLE001 - counting foreign exceptions is the point
            outcome = f"foreign:{type(exc).__name__}: {str(exc)[:200]}"
        print(json.dumps(outcome), flush=True)


# -- mutator ---------------------------------------------------------------------------------
def _split(data: bytes) -> tuple[dict, bytes] | None:
    size = int.from_bytes(data[:8], "little")
    try:
        return json.loads(data[8:8 + size]), data[8 + size:]
    except ValueError:
        return None


def _join(header: dict, body: bytes) -> bytes:
    text = json.dumps(header, allow_nan=True).encode()
    return len(text).to_bytes(8, "little") + text + body


ODD_VALUES = [None, True, -1, 0, 1, 2, 9, 2**31, 2**64, -(2**63), 1.5, math.nan, math.inf, -math.inf, "", "x",
              "tf_efficientnet_lite0", [], [2, 3], [2, 9], [-1], [0, 1, 2, 3, 4, 5], [2, "3"], {}, {"a": 1}]


def _odd(rng: random.Random):
    return rng.choice(ODD_VALUES)


def _damage_metadata(meta: dict, rng: random.Random) -> dict:
    features = meta.get("features") if isinstance(meta.get("features"), dict) else None
    targets = [(meta, k) for k in meta] + ([(features, k) for k in features] if features else [])
    if features is not None and rng.random() < 0.3:
        features["out_indices"] = [rng.randint(-3, 12) for _ in range(rng.randint(0, 4))]
        return meta
    target, key = rng.choice(targets)
    if rng.random() < 0.2:
        del target[key]
    else:
        target[key] = _odd(rng)
    return meta


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of a model file: (kind, bytes)."""
    kind = rng.choice(["truncate", "bitflip", "header_bitflip", "header_length", "offsets", "dtype", "shape",
                       "metadata", "metadata_text", "utf8"])
    parsed = _split(data)
    header_size = int.from_bytes(data[:8], "little")
    if kind == "truncate":
        return kind, data[:rng.randrange(len(data))]
    if kind in ("bitflip", "header_bitflip"):
        out = bytearray(data)
        end = 8 + header_size if kind == "header_bitflip" else len(out)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(end)] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "header_length":
        size = rng.choice([0, 1, header_size - 1, header_size + 1, len(data), 2**63, 2**64 - 1, rng.randrange(2**32)])
        return kind, size.to_bytes(8, "little") + data[8:]
    header, body = parsed
    tensors = [k for k in header if k != "__metadata__"]
    name = rng.choice(tensors)
    if kind == "offsets":
        begin, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = rng.choice([[end, begin], [begin, end + 4], [begin - 4, end], [0, 2**63],
                                                   [begin, len(body) + 8], [-1, end], [begin, "x"], [begin]])
    elif kind == "dtype":
        header[name]["dtype"] = rng.choice(["F16", "F64", "BF16", "I32", "U8", "BOOL", "I64", "F8_E4M3", "Q", 5, None])
    elif kind == "shape":
        shape = list(header[name]["shape"])
        choice = rng.randrange(4)
        if choice == 0 and shape:
            shape[rng.randrange(len(shape))] = rng.choice([0, 1, -1, 2**40, 2**64])
        elif choice == 1:
            shape = shape[::-1]
        elif choice == 2:
            shape = shape + [1]
        else:
            shape = shape[:-1]
        header[name]["shape"] = shape
    elif kind == "metadata":
        meta = json.loads(header["__metadata__"]["seqcore"])
        header["__metadata__"]["seqcore"] = json.dumps(_damage_metadata(meta, rng), allow_nan=True)
    elif kind == "metadata_text":
        text = header["__metadata__"]["seqcore"]
        cut = rng.randrange(len(text))
        header["__metadata__"]["seqcore"] = rng.choice([text[:cut], text[:cut] + "[" * 100000, "NaN", "[]", "1e999"])
    else:  # utf8: invalid UTF-8 inside the header text
        raw = _join(header, body)
        out = bytearray(raw)
        pos = rng.randrange(9, 8 + int.from_bytes(raw[:8], "little") - 1)
        out[pos:pos + 1] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])
        return kind, bytes(out)
    return kind, _join(header, body)


EXPORT_FILES = ("model.safetensors", "extractor.onnx")


def _with_onnx_hash(model: bytes, onnx: bytes) -> bytes:
    """The model file with its export metadata naming ``onnx``'s SHA-256 (so the ONNX parser runs)."""
    import hashlib

    header, body = _split(model)
    meta = json.loads(header["__metadata__"]["seqcore"])
    meta["export"]["onnx_sha256"] = hashlib.sha256(onnx).hexdigest()
    header["__metadata__"]["seqcore"] = json.dumps(meta)
    return _join(header, body)


def mutate_export(files: dict[str, bytes], rng: random.Random) -> tuple[str, dict[str, bytes]]:
    """One seeded mutation of an exported model directory: (kind, {file name: bytes}); a file left
    out is missing. The ONNX mutations mostly refresh the stored hash so that OpenCV parses them."""
    model, onnx = files[EXPORT_FILES[0]], files[EXPORT_FILES[1]]
    kind = rng.choice(["model", "export_metadata", "onnx_truncate", "onnx_bitflip", "onnx_splice",
                       "onnx_unhashed", "onnx_missing"])
    if kind == "model":
        sub, model = mutate(model, rng)
        return f"model_{sub}", {EXPORT_FILES[0]: model, EXPORT_FILES[1]: onnx}
    if kind == "export_metadata":
        header, body = _split(model)
        meta = json.loads(header["__metadata__"]["seqcore"])
        key = rng.choice(sorted(meta["export"]))
        if rng.random() < 0.2:
            del meta["export"][key]
        else:
            meta["export"][key] = _odd(rng)
        header["__metadata__"]["seqcore"] = json.dumps(meta, allow_nan=True)
        return kind, {EXPORT_FILES[0]: _join(header, body), EXPORT_FILES[1]: onnx}
    if kind == "onnx_missing":
        return kind, {EXPORT_FILES[0]: model}
    data = bytearray(onnx)
    if kind == "onnx_truncate":
        data = data[:rng.randrange(len(data))]
    elif kind == "onnx_splice":  # a run of random bytes, mostly in the graph structure near the start
        at = rng.randrange(min(len(data), 4096) if rng.random() < 0.7 else len(data))
        data[at:at + rng.randint(1, 64)] = rng.randbytes(rng.randint(0, 64))
    else:  # onnx_bitflip, onnx_unhashed: bit flips, mostly in the first bytes (graph, not weights)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(min(len(data), 4096) if rng.random() < 0.7 else len(data))] ^= 1 << rng.randrange(8)
    if kind != "onnx_unhashed":
        model = _with_onnx_hash(model, bytes(data))
    return kind, {EXPORT_FILES[0]: model, EXPORT_FILES[1]: bytes(data)}


def make_seed_export(out: Path) -> Path:
    """A small exported model (two synthetic images, capacity 64) as the inspector's seed input."""
    import numpy as np

    from seqcore import FeatureConfig, SequentialPatchCore

    rng = np.random.default_rng(0)
    model = SequentialPatchCore(FeatureConfig(resize_short_side=64), capacity=64)
    model.fit([rng.integers(0, 256, (64, 80, 3), dtype=np.uint8) for _ in range(2)], epochs=1, progress=False)
    model.threshold = 1.0
    return model.export(out)


# -- driver ----------------------------------------------------------------------------------
class Worker:
    """One reader's worker process, restarted after a crash or a hang."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.reader == INSPECTOR:
            command = [str(inspect_tool()), "--check", "-"]
        else:  # the worker imports seqcore exactly as this process does (installed package or PYTHONPATH)
            command = [sys.executable, __file__, "--worker", self.reader]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     errors="replace", bufsize=1)

    @staticmethod
    def _inspector_outcome(line: str) -> str:
        """seqcore_inspect --check line -> outcome: ok -> valid, export_error -> model_file_error."""
        status, _, detail = line.rstrip("\n").partition("\t")
        return {"ok": "valid", "export_error": "model_file_error"}.get(status, f"foreign:{detail[:200]}")

    def read(self, path: str, timeout: float) -> str:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(path + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._restart("crash")
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return self._restart("hang")
        line = self.proc.stdout.readline()
        if not line:
            return self._restart("crash")
        return self._inspector_outcome(line) if self.reader == INSPECTOR else json.loads(line)

    def _restart(self, outcome: str) -> str:
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        return outcome

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


def _write_export(files: dict[str, bytes], out: Path) -> None:
    for name in EXPORT_FILES:
        if name in files:
            (out / name).write_bytes(files[name])
        else:
            (out / name).unlink(missing_ok=True)


def run(inputs: int, readers: list[str], seed: int = 0, timeout: float = 60.0,
        progress: bool = True, export_dir: Path | None = None) -> dict:
    """Fuzz each reader with ``inputs`` mutated files (the inspector: mutated export directories,
    seeded by ``export_dir`` or a freshly made small export); outcome counts, first failures."""
    from tqdm import tqdm

    base = SEED_FILE.read_bytes()
    report = {"seed_file": str(SEED_FILE.relative_to(REPO)), "seed": seed, "inputs_per_reader": inputs,
              "timeout_s": timeout, "readers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for reader in readers:
            started = time.perf_counter()
            work = Worker(reader)
            counts, kinds, failures = Counter(), Counter(), []
            if reader == INSPECTOR:
                seed_dir = export_dir or make_seed_export(Path(tmp) / "seed_export")
                seed_files = {name: (seed_dir / name).read_bytes() for name in EXPORT_FILES}
                report["inspector_seed"] = "given export directory" if export_dir else "make_seed_export()"
                path = Path(tmp) / "inspector"
                path.mkdir()
                first = str(seed_dir)
            else:
                path = Path(tmp) / f"{reader}.safetensors"
                first = str(SEED_FILE)
            first_start = time.perf_counter()
            seed_outcome = work.read(first, 600.0)  # warm-up (imports, first backbone) outside the per-input timeout
            warmup = time.perf_counter() - first_start
            for i in tqdm(range(inputs), desc=f"fuzz {reader}", disable=not progress):
                rng = random.Random(f"{seed}:{i}")
                if reader == INSPECTOR:
                    kind, files = mutate_export(seed_files, rng)
                    _write_export(files, path)
                else:
                    kind, data = mutate(base, rng)
                    path.write_bytes(data)
                outcome = work.read(str(path), timeout)
                label = outcome.split(":", 1)[0]
                counts[label] += 1
                kinds[f"{kind}/{label}"] += 1
                if label in ("crash", "hang", "foreign") and len(failures) < 20:
                    failures.append({"input": i, "mutation": kind, "outcome": outcome})
            work.close()
            report["readers"][reader] = {
                "crashes": counts["crash"], "hangs": counts["hang"], "foreign_exceptions": counts["foreign"],
                "model_file_errors": counts["model_file_error"], "value_errors": counts["value_error"],
                "valid_loads": counts["valid"], "seed_outcome": seed_outcome,
                "by_mutation": dict(sorted(kinds.items())),
                "failures": failures, "seconds": round(time.perf_counter() - started, 1),
                "warmup_seconds": round(warmup, 1),
            }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="mutated files per reader")
    parser.add_argument("--reader", action="append", help="reader(s) to fuzz (default: every registered one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--export-dir", type=Path, help="seed export directory for the inspector (default: make one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    report = run(args.inputs, args.reader or available_readers(), args.seed, args.timeout, export_dir=args.export_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({r: {k: v for k, v in c.items() if k not in ("by_mutation", "failures")}
                      for r, c in report["readers"].items()}, indent=2))


if __name__ == "__main__":
    main()
