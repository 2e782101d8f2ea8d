"""COCO export read back with pycocotools.COCO: areas, boxes, masks, categories and poses."""
from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from dexsim_sim.datasets.coco import CocoBuilder, CocoError, Instance


def test_coco_round_trip(tmp_path):
    H, W = 40, 60
    seg = np.full((H, W), -1, np.int32)
    seg[5:15, 10:30] = 3              # 10 x 20 rectangle -> area 200, bbox (10, 5, 20, 10)
    seg[20:36, 40:44] = 7             # 16 x 4 -> area 64
    seg[22, 35] = 3                   # one stray pixel of body 3 makes its box larger
    pose = (0.4, 0.1, 0.02, 0.0, 0.0, 0.38268343, 0.92387953)
    b = CocoBuilder(["can", "box"], pose_frame="world")
    img = b.add_image("frame_000.png", W, H, seed=5, step=0)
    ids = b.add_instances(img, seg, [Instance(3, "can", pose, "target"), Instance(7, "box", None, "box"),
                                     Instance(9, "can", None, "hidden")])
    assert ids == [1, 2]   # the invisible instance is skipped
    path = b.save(tmp_path / "ann.json")

    coco = COCO(str(path))
    assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == ["box", "can"]
    a_can, a_box = coco.loadAnns(coco.getAnnIds(imgIds=[img]))
    assert a_can["area"] == 201 and a_box["area"] == 64
    assert a_can["bbox"] == [10.0, 5.0, 26.0, 18.0]    # x 10..35, y 5..22
    assert a_box["bbox"] == [40.0, 20.0, 4.0, 16.0]
    np.testing.assert_array_equal(coco.annToMask(a_can), (seg == 3).astype(np.uint8))
    assert a_can["category_id"] == coco.getCatIds(catNms=["can"])[0]
    assert a_can["pose"] == pytest.approx(list(pose)) and a_can["pose_frame"] == "world"
    assert "pose" not in a_box
    assert coco.loadImgs([img])[0]["seed"] == 5
    assert mask_utils.area(a_box["segmentation"]) == 64


def test_coco_errors():
    b = CocoBuilder(["can"])
    img = b.add_image("a.png", 4, 3)
    with pytest.raises(CocoError, match="unknown category 'cup'"):
        b.add_instances(img, np.zeros((3, 4), np.int32), [Instance(0, "cup")])
    with pytest.raises(CocoError, match=r"seg: expected shape \(3, 4\)"):
        b.add_instances(img, np.zeros((4, 4), np.int32), [])
    with pytest.raises(CocoError, match="pose: expected 7 numbers"):
        b.add_instances(img, np.zeros((3, 4), np.int32), [Instance(0, "can", (0.0, 1.0))])
