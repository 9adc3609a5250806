"""Folding BatchNorm into convolutions keeps the outputs and refuses graphs it would change."""
from __future__ import annotations

import torch
from torch import nn

from seqcore.features.backbones import create_backbone
from seqcore.features.fusion import fold_batch_norms


def _with_stats(model: nn.Module) -> nn.Module:
    """Random running statistics and affine parameters, so folding is not the identity."""
    gen = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=gen))
            module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            module.weight.data.copy_(torch.randn(c, generator=gen))
            module.bias.data.copy_(torch.randn(c, generator=gen))
    return model.eval()


class _PreNormReuse(nn.Module):
    """The convolution's output feeds the BatchNorm and also a residual sum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


def test_folded_sequential_net_matches_and_has_no_batchnorm():
    net = _with_stats(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                    nn.Conv2d(8, 4, 1, bias=False), nn.BatchNorm2d(4)))
    folded, count = fold_batch_norms(net)
    assert count == 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    x = torch.randn(2, 3, 17, 23)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-5)


def test_reused_pre_norm_output_is_not_folded():
    net = _with_stats(_PreNormReuse())
    folded, count = fold_batch_norms(net)
    assert count == 0 and folded is net


def test_lite0_backbone_folds_every_batchnorm_with_equal_features():
    backbone = create_backbone("tf_efficientnet_lite0", (2, 3), pretrained=True)
    folded, count = fold_batch_norms(backbone)
    assert count == sum(isinstance(m, nn.BatchNorm2d) for m in backbone.modules()) > 0
    x = torch.rand(1, 3, 96, 128) * 2 - 1
    with torch.no_grad():
        for a, b in zip(backbone(x), folded(x), strict=False):
            torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3 * a.abs().max().item())
