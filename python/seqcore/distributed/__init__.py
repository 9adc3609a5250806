"""Training through Ray (issue 16): shard the images, fit one sequential coreset per shard, meld them as a tree.

``fit_distributed`` is the entry point; ``seqcore train DATA --distributed ray`` calls it. Ray is the
optional extra ``seqcore[distributed]``; everything but ``fit_distributed`` works without it.
"""
from seqcore.distributed.fit import DistributedReport, fit_distributed
from seqcore.distributed.meld_tree import DEFAULT_FAN_IN, meld_tree, tree_depth
from seqcore.distributed.ray_runtime import RayMissingError
from seqcore.distributed.shards import Shard, shard_ranges

__all__ = ["DEFAULT_FAN_IN", "DistributedReport", "RayMissingError", "Shard", "fit_distributed", "meld_tree",
           "shard_ranges", "tree_depth"]
