"""CutPaste's network: an offline ImageNet EfficientNet-Lite encoder, an MLP projection head and a classifier."""
from __future__ import annotations

import torch
from torch import nn

from seqcore.models.supervised.encoders import imagenet_state_dict, timm_name

EMBEDDING = 128  # the head's output: the embedding the Gaussian density is fitted on


class CutPasteNet(nn.Module):
    """Encoder (global-average-pooled) -> Linear-BN-ReLU -> Linear(128) embedding -> Linear(classes)."""

    def __init__(self, encoder: str = "lite0", classes: int = 2, pretrained: bool = True) -> None:
        super().__init__()
        import timm

        self.encoder = timm.create_model(timm_name(encoder), pretrained=False, num_classes=0)
        if pretrained:
            mapped = imagenet_state_dict(encoder)
            self.encoder.load_state_dict({k: v for k, v in mapped.items() if not k.startswith("classifier.")})
        width = self.encoder.num_features
        self.head = nn.Sequential(nn.Linear(width, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                                  nn.Linear(512, EMBEDDING))
        self.classifier = nn.Linear(EMBEDDING, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding, class logits)."""
        embedding = self.embed(x)
        return embedding, self.classifier(embedding)
