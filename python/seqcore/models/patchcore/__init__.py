"""PatchCore with a bounded coreset: the method class, its training strategies and melding."""
from seqcore.models.patchcore.meld import IncompatibleModelsError, check_compatible, meld_models
from seqcore.models.patchcore.method import SequentialPatchCore
from seqcore.models.patchcore.strategies import FitReport, Greedy, Sequential, Strategy, strategy_named

__all__ = [
    "FitReport",
    "Greedy",
    "IncompatibleModelsError",
    "Sequential",
    "SequentialPatchCore",
    "Strategy",
    "check_compatible",
    "meld_models",
    "strategy_named",
]
