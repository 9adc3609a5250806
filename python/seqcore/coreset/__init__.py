"""Sequential coreset (docs/design.md §2): compiled CPU/CUDA backends, NumPy reference, greedy
k-center baseline and melding."""
from seqcore.coreset.kcenter import greedy_kcenter
from seqcore.coreset.meld import meld
from seqcore.coreset.reference import ReferenceCoreset
from seqcore.coreset.sequential import SequentialCoreset

__all__ = ["ReferenceCoreset", "SequentialCoreset", "greedy_kcenter", "meld"]
