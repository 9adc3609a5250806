"""CutPaste: nominal vs synthetic-defect classifier with Gaussian density scoring (docs/design.md §12)."""
from seqcore.models.cutpaste.augment import DEFECTS, synthetic_defect
from seqcore.models.cutpaste.method import CutPaste, CutPasteConfig, CutPasteReport

__all__ = ["DEFECTS", "CutPaste", "CutPasteConfig", "CutPasteReport", "synthetic_defect"]
