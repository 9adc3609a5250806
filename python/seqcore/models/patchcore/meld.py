"""Melding fitted PatchCore models into one coreset without feature extraction (docs/design.md §2)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqcore.models.patchcore.method import SequentialPatchCore


class IncompatibleModelsError(ValueError):
    """Models cannot be melded or fine-tuned together: their patch features differ."""


def check_compatible(base: SequentialPatchCore, other: SequentialPatchCore) -> None:
    """Raise IncompatibleModelsError unless both models produce the same patch vectors."""
    mine, theirs = base.config.compatibility_key(), other.config.compatibility_key()
    mine["scales"], theirs["scales"] = base.scales, other.scales
    diffs = [f"{k}: {mine[k]!r} vs {theirs[k]!r}" for k in mine if mine[k] != theirs.get(k)]
    if not diffs:
        a, b = base.extractor.projection, other.extractor.projection
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
            diffs.append("projection matrices differ")
    if diffs:
        raise IncompatibleModelsError("models have incompatible feature configurations: " + "; ".join(diffs))


def meld_models(models: Sequence[SequentialPatchCore], capacity: int | None = None) -> SequentialPatchCore:
    """Meld fitted models (base first) into a new sequential one of ``capacity`` (default: the base's).

    Melds bank by bank (every model has the same scales). Keeps the base's settings, nominal
    scales included (they normalise the base's score grids, which the meld extends), and shares
    its extractor; the threshold survives only if every source has the same one.
    """
    from seqcore.coreset import meld as meld_coresets

    if not models:
        raise ValueError("meld needs at least one model")
    base = models[0]
    for model in models:
        model._require_fitted()
        check_compatible(base, model)
    thresholds = {m.threshold for m in models}
    banks = [meld_coresets([m.banks[b] for m in models], capacity=capacity or base.capacity, device=base.coreset_device)
             for b in range(len(base.scales))]
    return SequentialPatchCore.from_coreset(
        banks, base.extractor,
        history=[{"melded": [m.history for m in models], "capacity": banks[0].capacity}],
        scales=base.scales, nominal_scales=base.nominal_scales, image_score=base.image_score,
        blur_sigma=base.blur_sigma, min_patch_brightness=base.min_patch_brightness,
        threshold=thresholds.pop() if len(thresholds) == 1 else None, seed=base.seed,
        coreset_device=base.coreset_device,
    )
