"""The backbone level table equals what timm builds (on the meta device: no weights, no memory)."""
from __future__ import annotations

import pytest
import timm
import torch

from seqcore.features.levels import KNOWN_LEVELS, Level, backbone_levels, selected_levels


@pytest.mark.parametrize("name", sorted(KNOWN_LEVELS))
def test_table_matches_timm_feature_info(name):
    with torch.device("meta"):
        info = timm.create_model(name, pretrained=False, features_only=True).feature_info
    assert KNOWN_LEVELS[name] == tuple(Level(c, r) for c, r in zip(info.channels(), info.reduction(), strict=True))


def test_backbones_outside_the_table_are_asked_without_weights():
    levels = backbone_levels("mobilenetv3_small_050")
    assert len(levels) == 5 and [level.stride for level in levels] == [2, 4, 8, 16, 32]


@pytest.mark.parametrize("indices, message", [((2, 5), "levels 0..4, not 5"), ((3, 3), "repeat")])
def test_bad_indices_raise_value_error_not_index_error(indices, message):
    with pytest.raises(ValueError, match=message):
        selected_levels("tf_efficientnet_lite0", indices)


def test_unknown_backbone_raises_value_error():
    with pytest.raises(ValueError, match="unknown timm backbone"):
        backbone_levels("not_a_backbone")
