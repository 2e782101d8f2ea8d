"""Stereo depth: CameraInfo validation, SGBM depth on a rendered pair, point-cloud frames."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.projection.stereo import (CameraInfoError, EmptyDisparityError, ImageSizeError, NotRectifiedError,
                                          SGBMConfig, StereoIntrinsics, camera_info_dicts, depth_to_points,
                                          rgbd_frame, stereo_depth, transform_points)

from .conftest import PlacedAsset


def test_intrinsics_from_camera_info_reads_baseline():
    left, right = camera_info_dicts(640, 512, 75.0, 0.05)
    intr = StereoIntrinsics.from_camera_info(left, right)
    assert intr.baseline_m == pytest.approx(0.05)
    assert intr.fx == pytest.approx(320 / np.tan(np.radians(37.5)))
    assert (intr.width, intr.height) == (640, 512)


@pytest.mark.parametrize("mutate, error, match", [
    (lambda l, r: (None, r), CameraInfoError, "left: CameraInfo is missing"),
    (lambda l, r: ({k: v for k, v in l.items() if k != "P"}, r), CameraInfoError, "left.P: missing"),
    (lambda l, r: (dict(l, K=[1, 2, 3]), r), CameraInfoError, "left.K: expected 9 numbers"),
    (lambda l, r: (l, dict(r, P=[float("nan")] * 12)), CameraInfoError, "right.P: contains NaN"),
    (lambda l, r: (l, dict(r, P=[v if i != 2 else v + 20 for i, v in enumerate(r["P"])])), NotRectifiedError, "cx"),
    (lambda l, r: (l, dict(r, P=[v if i != 3 else 10.0 for i, v in enumerate(r["P"])])), CameraInfoError, "right.P\\[3\\]"),
    (lambda l, r: (l, dict(r, width=320)), ImageSizeError, "sizes differ"),
])
def test_bad_camera_info_raises_named_error(mutate, error, match):
    left, right = camera_info_dicts(64, 48, 75.0, 0.05)
    with pytest.raises(error, match=match):
        StereoIntrinsics.from_camera_info(*mutate(left, right))


def test_mismatched_and_empty_images_raise():
    left, right = camera_info_dicts(64, 48, 75.0, 0.05)
    img = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(ImageSizeError, match="differ in size"):
        stereo_depth(img, np.zeros((40, 64, 3), np.uint8), left, right)
    with pytest.raises(ImageSizeError, match="does not match CameraInfo|differs from CameraInfo"):
        stereo_depth(np.zeros((40, 64, 3), np.uint8), np.zeros((40, 64, 3), np.uint8), left, right)
    with pytest.raises(EmptyDisparityError, match="valid disparity"):
        stereo_depth(img, img, left, right, SGBMConfig(num_disparities=16))     # textureless
    with pytest.raises(ImageSizeError, match="does not match rgb"):
        rgbd_frame(img, np.ones((10, 10), np.float32), left)


def test_sgbm_depth_matches_rendered_depth(stereo_renderer):
    pair, uids = stereo_renderer.render([PlacedAsset("box_flat", (0.4, 0.0), 0.3),
                                         PlacedAsset("can_tall", (0.45, 0.2))])
    frame = stereo_depth(pair.left, pair.right, pair.left_info, pair.right_info)
    err = np.abs(frame.depth - pair.depth)
    on_objects = np.isin(pair.seg, uids) & np.isfinite(err)
    assert on_objects.sum() > 500
    assert np.median(err[on_objects]) < 0.005          # m
    assert np.isfinite(frame.depth).mean() > 0.4


def test_point_cloud_lands_in_base_frame(stereo_renderer):
    pair, uids = stereo_renderer.render([PlacedAsset("box_small", (0.4, -0.1))])
    frame = rgbd_frame(pair.left, pair.depth, pair.left_info)
    cloud = transform_points(depth_to_points(frame.depth, frame.intrinsics), pair.base_from_optical)
    box = cloud[pair.seg == uids[0]]
    top = box[box[:, 2] > 0.04]                                          # the cube's top face
    assert np.allclose((top[:, :2].min(axis=0) + top[:, :2].max(axis=0)) / 2, (0.4, -0.1), atol=0.004)
    assert box[:, 2].max() == pytest.approx(0.045, abs=0.003)           # top of the 4.5 cm cube
    table = cloud[(pair.seg == pair.table_uid) & np.isfinite(cloud[..., 2])]
    assert abs(np.median(table[:, 2])) < 0.002
