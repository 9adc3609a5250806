"""Fuzz the model-file readers with seeded mutations of a real model file (issue 20).

Each reader runs in its own worker process that is reused across inputs; an input that kills
the worker counts as a crash, one that takes longer than ``--timeout`` seconds as a hang (the
worker is restarted either way). An exception other than ModelFileError / ValueError is a
foreign exception. Mutations: truncation, bit flips, header length, tensor offsets, dtype and
shape, and damage to the metadata JSON (layer indices, NaN, wrong types, deleted keys, bad
UTF-8). Counts go to ``benchmarks/results/fuzz_model_file.json``.

    python benchmarks/fuzz_model_file.py --inputs 100000            # every reader
    python benchmarks/fuzz_model_file.py --inputs 2000 --reader cpp

Readers are registered in ``READERS`` (name -> callable taking a path); the C++ ``Inspector``
registers itself below once ``seqcore._core`` has one.
"""
from __future__ import annotations

import argparse
import json
import math
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


def _read_inspector(path: str) -> None:
    from seqcore import _core

    _core.Inspector(path)  # the C++ Inspector (issue 20's third reader) opens a model file


# Register further readers here (name -> callable(path)); "inspector" joins in available_readers()
READERS: dict[str, Callable[[str], None]] = {"cpp": _read_cpp, "python": _read_python,
                                             "python_checks": _read_python_checks}


def available_readers() -> list[str]:
    """Registered readers; the Inspector joins once the compiled core provides it."""
    from seqcore import _core

    if hasattr(_core, "Inspector"):
        READERS.setdefault("inspector", _read_inspector)
    return list(READERS)


def _cache_backbones() -> None:
    """Build each backbone once per worker and hand out copies: a valid mutated file then costs a
    deep copy instead of a backbone build, while the loader's code path stays the same."""
    import copy

    from seqcore.features import extractor

    built: dict[tuple, object] = {}
    create = extractor.create_backbone

    def cached(name: str, out_indices: tuple[int, ...], pretrained: bool = True):
        key = (name, tuple(out_indices), pretrained)
        if key not in built:
            built[key] = create(name, out_indices, pretrained)
        return copy.deepcopy(built[key])

    extractor.create_backbone = cached


def worker(reader: str) -> None:
    """Read one path per stdin line; answer one JSON line per input with the outcome."""
    from seqcore.errors import ModelFileError

    available_readers()
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


# -- driver ----------------------------------------------------------------------------------
class Worker:
    """One reader's worker process, restarted after a crash or a hang."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        # the worker imports seqcore exactly as this process does (installed package or PYTHONPATH)
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", self.reader], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

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
        return json.loads(line)

    def _restart(self, outcome: str) -> str:
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        return outcome

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


def run(inputs: int, readers: list[str], seed: int = 0, timeout: float = 60.0,
        progress: bool = True) -> dict:
    """Fuzz each reader with ``inputs`` mutated files; outcome counts, first examples of failures."""
    from tqdm import tqdm

    base = SEED_FILE.read_bytes()
    report = {"seed_file": str(SEED_FILE.relative_to(REPO)), "seed": seed, "inputs_per_reader": inputs,
              "timeout_s": timeout, "readers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for reader in readers:
            started = time.perf_counter()
            work = Worker(reader)
            counts, kinds, failures = Counter(), Counter(), []
            first_start = time.perf_counter()
            work.read(str(SEED_FILE), 600.0)  # warm-up (imports, first backbone) outside the per-input timeout
            warmup = time.perf_counter() - first_start
            path = str(Path(tmp) / f"{reader}.safetensors")
            for i in tqdm(range(inputs), desc=f"fuzz {reader}", disable=not progress):
                kind, data = mutate(base, random.Random(f"{seed}:{i}"))
                Path(path).write_bytes(data)
                outcome = work.read(path, timeout)
                label = outcome.split(":", 1)[0]
                counts[label] += 1
                kinds[f"{kind}/{label}"] += 1
                if label in ("crash", "hang", "foreign") and len(failures) < 20:
                    failures.append({"input": i, "mutation": kind, "outcome": outcome})
            work.close()
            report["readers"][reader] = {
                "crashes": counts["crash"], "hangs": counts["hang"], "foreign_exceptions": counts["foreign"],
                "model_file_errors": counts["model_file_error"], "value_errors": counts["value_error"],
                "valid_loads": counts["valid"], "by_mutation": dict(sorted(kinds.items())), "failures": failures,
                "seconds": round(time.perf_counter() - started, 1), "warmup_seconds": round(warmup, 1),
            }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="mutated files per reader")
    parser.add_argument("--reader", action="append", help="reader(s) to fuzz (default: every registered one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    report = run(args.inputs, args.reader or available_readers(), args.seed, args.timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({r: {k: v for k, v in c.items() if k not in ("by_mutation", "failures")}
                      for r, c in report["readers"].items()}, indent=2))


if __name__ == "__main__":
    main()
