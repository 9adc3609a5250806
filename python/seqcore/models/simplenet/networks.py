"""SimpleNet's two small networks (Liu et al., CVPR 2023): a linear feature adaptor and a 2-layer MLP discriminator."""
from __future__ import annotations

import torch
from torch import nn

DEFAULT_HIDDEN = 1024
LEAKY_SLOPE = 0.2


def _xavier(module: nn.Module) -> None:
    """SimpleNet's initialisation: Xavier-normal weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Adaptor(nn.Module):
    """One linear layer d -> d that moves the frozen backbone features towards the target domain."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.apply(_xavier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Discriminator(nn.Module):
    """Linear -> BatchNorm -> LeakyReLU(0.2) -> Linear: one normality logit per patch (high = nominal)."""

    def __init__(self, dim: int, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(LEAKY_SLOPE))
        self.head = nn.Linear(hidden, 1, bias=False)
        self.apply(_xavier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)


def truncated_l1(true_logits: torch.Tensor, fake_logits: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """SimpleNet's loss: nominal logits pushed above +margin, noisy (fake) ones below -margin."""
    return torch.relu(margin - true_logits).mean() + torch.relu(fake_logits + margin).mean()
