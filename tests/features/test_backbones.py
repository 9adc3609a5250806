"""The default backbone loads its ImageNet weights offline from the packaged file."""
from __future__ import annotations

import socket

import pytest
import torch

from seqcore.features import backbones
from seqcore.features.backbones import BackboneError, create_backbone, lite0_state_dict_for_timm


@pytest.fixture
def no_network(monkeypatch):
    """Any socket use fails: proves nothing is downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_offline_lite0_weights_equal_package_file(no_network):
    model = create_backbone("tf_efficientnet_lite0", (2, 3), pretrained=True)
    source = torch.load(backbones.lite0_weights_path(), map_location="cpu", weights_only=True)
    source_tensors = list(source.values())
    import timm

    full_names = list(timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict())
    by_name = dict(zip(full_names, source_tensors, strict=False))
    state = model.state_dict()
    assert len(model.blocks) == 5  # blocks after the stride-16 level are dropped
    assert len(state) == 198  # stem + blocks 0-4 of the 296 packaged tensors
    for name, tensor in state.items():
        assert torch.equal(tensor, by_name[name]), name
    assert model.feature_info.channels() == [40, 112]
    assert not any(p.requires_grad for p in model.parameters())


def test_weights_with_a_wrong_shape_fail_clearly(monkeypatch, tmp_path):
    source = torch.load(backbones.lite0_weights_path(), map_location="cpu", weights_only=True)
    first = next(iter(source))
    source[first] = torch.zeros(3, 3)
    path = tmp_path / "broken.pth"
    torch.save(source, path)
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: path)
    import timm

    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    with pytest.raises(BackboneError, match="does not match timm parameter conv_stem.weight"):
        lite0_state_dict_for_timm(target)


def test_unknown_backbone_is_rejected():
    with pytest.raises(BackboneError, match="unknown timm backbone"):
        create_backbone("no_such_net_42", (2, 3))


def test_other_timm_backbone_without_pretrained_weights():
    model = create_backbone("resnet18", (2, 3), pretrained=False)
    assert model.feature_info.reduction() == [8, 16]
