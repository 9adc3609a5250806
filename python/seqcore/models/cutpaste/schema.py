"""The CutPaste model-file metadata: one dataclass, written and read with full validation."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from seqcore.models.cutpaste.augment import DEFECTS

CUTPASTE_KIND = "CutPaste"
ENCODERS = ("lite0", "lite1", "lite2")


def _error(message: str) -> Exception:
    from seqcore.io import ModelFileError

    return ModelFileError(f"invalid CutPaste metadata: {message}")


@dataclass
class CutPasteMetadata:
    """What besides the network and Gaussian decides a CutPaste model's predictions."""

    encoder: str = "lite0"
    resize_short_side: int = 256
    patch: int = 64
    stride: int = 32
    three_way: bool = False
    defects: list[str] = field(default_factory=lambda: list(DEFECTS))
    blur_sigma: float = 4.0
    threshold: float | None = None
    seed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise _error(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        for name in ("resize_short_side", "patch", "stride", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or (name != "seed" and value < 1):
                raise _error(f"{name} must be a positive integer, got {value!r}")
        if self.patch < 32 or self.patch > self.resize_short_side:
            raise _error(f"patch must lie in [32, resize_short_side], got {self.patch}")
        if not isinstance(self.three_way, bool):
            raise _error(f"three_way must be true or false, got {self.three_way!r}")
        if not isinstance(self.defects, list) or not self.defects or any(d not in DEFECTS for d in self.defects):
            raise _error(f"defects must be a non-empty list of {sorted(DEFECTS)}, got {self.defects!r}")
        for name in ("blur_sigma", "threshold"):
            value = getattr(self, name)
            if value is None and name == "threshold":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
                    name == "blur_sigma" and value < 0):
                raise _error(f"{name} must be a finite number (blur_sigma >= 0), got {value!r}")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise _error("history must be a list of objects")
        if not isinstance(self.versions, dict) or not all(isinstance(v, str) for v in self.versions.values()):
            raise _error("versions must map names to version strings")

    def to_dict(self) -> dict[str, Any]:
        """The JSON metadata, ``"model"`` first."""
        return {"model": CUTPASTE_KIND} | asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> CutPasteMetadata:
        """Read a file's metadata; ModelFileError on a foreign kind, unknown keys or bad values."""
        if not isinstance(data, dict):
            raise _error(f"expected a JSON object, got {type(data).__name__}")
        if data.get("model") != CUTPASTE_KIND:
            raise _error(f"not a {CUTPASTE_KIND} model file (model={data.get('model')!r})")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names - {"model"})
        if unknown:
            raise _error(f"unknown key(s) {unknown}")
        return cls(**{k: v for k, v in data.items() if k in names})
