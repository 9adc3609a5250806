"""Helpers of the quality benchmark (issue 14); its scoring rules are the library's (tests/models/test_scoring.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import quality_lib as ql  # noqa: E402


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 200).astype(float)  # many ties
    labels = rng.random(200) < 0.3
    assert ql.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert ql.auroc([1.0, 2.0], [True, True]) is None


def test_patch_features_pool_like_the_extractor():
    """The benchmark's features from cached levels equal the library extractor's (same pooling code)."""
    from seqcore.features import FeatureConfig, FeatureExtractor

    config = FeatureConfig(resize_short_side=None)
    ex = FeatureExtractor(config)
    image = (np.random.default_rng(1).random((48, 64)) * 255).astype(np.uint8)
    prepared = ex.prepare(image)
    levels = [lv[0].numpy() for lv in ex.backbone_levels(prepared[None])]
    feats, stride = ql.patch_features(levels, (0, 1), 3, True, prepared.shape[:2], 0)
    assert stride == 8
    np.testing.assert_allclose(feats, ex.extract(image), rtol=1e-5, atol=1e-5)


def test_input_recipe_sizing_and_cache_key():
    assert ql.InputRecipe().feature_config().resize_shape == (256, 256)
    config = ql.InputRecipe(sizing="short320").feature_config()
    assert config.resize_short_side == 320 and config.resize_shape is None
    assert ql.InputRecipe(sizing="short256").key == "imagenet_pad0_short256"  # caches of earlier runs stay valid
    deeper = ql.InputRecipe(sizing="short256", out_indices=(1, 2, 3))
    assert deeper.key.endswith("_oi123") and deeper.feature_config().out_indices == (1, 2, 3)
    for bad in ("short", "shortx", "square320"):
        with pytest.raises(ValueError, match="unknown sizing"):
            ql.InputRecipe(sizing=bad).feature_config()
