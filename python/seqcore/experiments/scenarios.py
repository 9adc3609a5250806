"""The rows of the paper protocol (docs/design.md §7, §18): what each model is fitted on, what it is compared to."""
from __future__ import annotations

import re
from dataclasses import dataclass

FRACTIONS = (0.1, 0.3, 1.0)  # shares of the real training images for the fine-tuned and melded rows
SYNTH_BASES = ("Synth", "Synth_WS")
SYNTH_TRAININGS = ("", "+DA", "+DR", "+DR+DA")
MELD_SOURCE = "+DR+DA"  # the synthetic model melded with the real one: every augmentation, fixed beforehand
CAPACITY_FACTORS = (2.0, 0.5)  # melding capacity rows (paper §V-D): double and half K


def percent_label(fraction: float) -> str:
    return f"{round(100 * fraction)} %"


@dataclass(frozen=True)
class Row:
    """One scenario: ``kind`` real | synth | ft | meld; ``reference`` is the row it is compared against."""

    name: str
    kind: str
    fraction: float | None = None  # share of real training images (real, ft, meld)
    stained: bool = False  # real training images carry water stains (Real_WS)
    synth: str | None = None  # the synthetic model (synth: itself; ft: its start; meld: the melded one)
    capacity_factor: float = 1.0  # meld capacity relative to K
    reference: str | None = None

    @property
    def slug(self) -> str:
        """A file-name-safe id of the row."""
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.name).strip("_")

    @property
    def uses_real(self) -> bool:
        return self.kind != "synth"


def real_name(fraction: float) -> str:
    return "Real" if fraction == 1.0 else f"Real ({percent_label(fraction)})"


def meld_name(base: str, fraction: float, factor: float = 1.0) -> str:
    stem = "Melding" if base == "Synth" else "Melding_WS"
    size = "" if factor == 1.0 else (", 2K" if factor == 2.0 else ", K/2" if factor == 0.5 else f", {factor:g}K")
    return f"{stem} ({percent_label(fraction)}{size})"


def paper_rows() -> list[Row]:
    """Every row, in table order; a row's reference and its sources come before it."""
    rows = [Row(real_name(f), "real", fraction=f) for f in FRACTIONS[::-1]]
    rows.append(Row("Real_WS", "real", fraction=1.0, stained=True, reference="Real"))
    for base in SYNTH_BASES:
        for training in SYNTH_TRAININGS:
            name = base + training
            ref = None if base == "Synth" else "Synth" + training
            rows.append(Row(name, "synth", synth=name, reference=ref))
    for base in SYNTH_BASES:
        for training in SYNTH_TRAININGS:
            for f in FRACTIONS:
                rows.append(Row(f"{base}{training} (ft {percent_label(f)})", "ft", fraction=f,
                                synth=base + training, reference=real_name(f)))
    for base in SYNTH_BASES:
        for f in FRACTIONS:
            rows.append(Row(meld_name(base, f), "meld", fraction=f, synth=base + MELD_SOURCE, reference=real_name(f)))
        for factor in CAPACITY_FACTORS:
            rows.append(Row(meld_name(base, 1.0, factor), "meld", fraction=1.0, synth=base + MELD_SOURCE,
                            capacity_factor=factor, reference=meld_name(base, 1.0)))
    return rows


def synth_parts(name: str) -> tuple[str, bool, bool]:
    """(variant stem, domain randomisation, augmentation) of a synthetic model name like 'Synth_WS+DR+DA'."""
    stem, *flags = name.split("+")
    if stem not in SYNTH_BASES or not set(flags) <= {"DA", "DR"}:
        raise ValueError(f"not a synthetic scenario: {name!r}")
    return stem, "DR" in flags, "DA" in flags


# Rows of the paper's Table II without an analogue here, and why.
NOT_REPRODUCED = {
    "path-traced 3-D scene renderings": "the paper renders a 3-D scene of its aluminium plates with a path tracer; "
    "seqcore's generator is procedural 2.5-D shading of flat plates (docs/design.md §6), so every synthetic "
    "row here stands for the paper's procedural one",
    "the paper's real aluminium-plate line": "that data set is not public; magnetic tile is the real line here, "
    "with the generator's water stains painted on its images (the tiles carry no real stains)",
    "MobileNetV3-Large backbone": "seqcore's offline default, EfficientNet-Lite0, is used for every row "
    "(same K and feature settings everywhere)",
}
