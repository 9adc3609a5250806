"""The supervised segmenter's model-file metadata: one dataclass, written and read with full validation."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from seqcore.models.supervised.encoders import ENCODERS
from seqcore.models.supervised.networks import ARCHS

SUPERVISED_KIND = "SupervisedSegmenter"


def _error(message: str) -> Exception:
    from seqcore.io import ModelFileError

    return ModelFileError(f"invalid supervised model metadata: {message}")


@dataclass
class SupervisedMetadata:
    """What besides the network weights decides a supervised model's predictions."""

    arch: str
    encoder: str
    stacking: bool = True
    threshold: float | None = None
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise _error(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.encoder not in ENCODERS:
            raise _error(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if not isinstance(self.stacking, bool):
            raise _error(f"stacking must be true or false, got {self.stacking!r}")
        t = self.threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
            raise _error(f"threshold must be a finite number or null, got {t!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise _error(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise _error("history must be a list of objects")
        if not isinstance(self.versions, dict) or not all(isinstance(v, str) for v in self.versions.values()):
            raise _error("versions must map names to version strings")

    def to_dict(self) -> dict[str, Any]:
        """The JSON metadata, ``"model"`` first."""
        return {"model": SUPERVISED_KIND} | asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SupervisedMetadata:
        """Read a file's metadata; ModelFileError on a foreign kind, missing or unknown keys, bad values."""
        if not isinstance(data, dict):
            raise _error(f"expected a JSON object, got {type(data).__name__}")
        if data.get("model") != SUPERVISED_KIND:
            raise _error(f"not a {SUPERVISED_KIND} model file (model={data.get('model')!r})")
        names = {f.name for f in fields(cls)}
        missing = [k for k in ("arch", "encoder") if k not in data]
        unknown = sorted(set(data) - names - {"model"})
        if missing or unknown:
            raise _error(f"missing key(s) {missing}, unknown key(s) {unknown}")
        return cls(**{k: v for k, v in data.items() if k in names})
