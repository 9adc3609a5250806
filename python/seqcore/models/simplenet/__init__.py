"""SimpleNet: feature adaptor + patch discriminator on seqcore's frozen features (docs/design.md §11)."""
from seqcore.models.simplenet.method import SimpleNet, SimpleNetConfig, SimpleNetReport

__all__ = ["SimpleNet", "SimpleNetConfig", "SimpleNetReport"]
