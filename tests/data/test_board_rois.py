"""Board annotation JSON -> region of interest: polygons minus rectangles against a brute-force
point-in-polygon reference, the accepted forms, clear errors, and the ROI reaching every command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.path import Path as PolygonPath
from PIL import Image

from seqcore.data import open_dataset
from seqcore.data.board_rois import BoardAnnotationError, BoardROIDataset, board_roi


def test_polygon_minus_rectangles_matches_reference():
    polygon = [[5, 5], [50, 8], [55, 40], [10, 45]]
    roi = board_roi({"borders": [polygon], "labels": [[20, 10, 30, 20], {"x": 40, "y": 30, "width": 5, "height": 5}]},
                    (50, 60))
    yy, xx = np.mgrid[:50, :60]
    inside = PolygonPath(polygon).contains_points(np.c_[xx.ravel(), yy.ravel()]).reshape(50, 60)
    expected = inside.copy()
    expected[10:20, 20:30] = False
    expected[30:35, 40:45] = False
    # cv2.fillPoly includes the boundary pixels, the reference does not: compare away from the outline
    assert (roi[expected]).all()
    assert (roi & ~inside).sum() <= 2 * (50 + 60)
    assert not roi[10:20, 20:30].any() and not roi[30:35, 40:45].any()


def test_accepted_forms_and_errors():
    assert board_roi({}, (4, 4)).all()
    assert board_roi({"borders": [[0, 0], [3, 0], [3, 3], [0, 3]]}, (8, 8))[:3, :3].all()  # one bare polygon
    assert not board_roi({"labels": [{"points": [[2, 2], [0, 0]]}]}, (4, 4))[:2, :2].any()
    for bad, message in (({"borders": [[[0, 0], [1, 1]]]}, "at least 3"), ({"labels": [[1, 2]]}, "labels\\[0\\]"),
                         ([], "JSON object"), ({"borders": "x"}, "list of polygons")):
        with pytest.raises(BoardAnnotationError, match=message):
            board_roi(bad, (4, 4))


def test_roi_reaches_samples_and_entries(tmp_path):
    root = tmp_path / "plate"
    for split, label in (("train", "good"), ("test", "crack")):
        (root / split / label).mkdir(parents=True)
        Image.fromarray(np.full((32, 40), 120, np.uint8)).save(root / split / label / "a.png")
    (root / "ground_truth" / "crack").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 40), np.uint8)).save(root / "ground_truth" / "crack" / "a_mask.png")
    rois = tmp_path / "rois"
    rois.mkdir()
    (rois / "a.json").write_text(json.dumps({"labels": [[0, 0, 10, 32]]}))
    train = BoardROIDataset(open_dataset("mvtec", root, "train"), rois)
    sample = next(iter(train))
    assert sample.gt is not None and not sample.gt.roi[:, :10].any() and sample.gt.roi[:, 10:].all()
    test = BoardROIDataset(open_dataset("mvtec", root, "test"), rois)
    assert not test.entries[0].ground_truth().roi[:, :10].any()
    with pytest.raises(FileNotFoundError):
        BoardROIDataset(open_dataset("mvtec", root, "test"), tmp_path / "missing")
