"""Domain adaptation helpers on synthetic depth/segmentation with known ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.scaling.adaptation import (AdaptationError, farthest_point_sampling, first_contact_keypose,
                                           gripper_keyposes, masked_point_cloud, object_crop, pose_to_matrix)

H, W = 96, 128
FX = FY = 100.0
CX, CY = (W - 1) / 2, (H - 1) / 2
K = np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1]])
PLANE_Z_M = 0.8
OBJ_ID = 4


def _scene(patch=(slice(30, 70), slice(40, 100))):
    depth = np.full((H, W), 2.5, np.float32)
    seg = np.full((H, W), 1, np.int32)          # "table"
    depth[patch] = PLANE_Z_M
    seg[patch] = OBJ_ID
    return depth, seg, patch


def test_plane_patch_points_in_base_frame_within_1mm():
    depth, seg, (rows, cols) = _scene()
    # Camera 1 m above the base origin looking straight down: optical z = -base z, x = base -y, y = base -x.
    T = np.eye(4)
    T[:3, :3] = [[0, -1, 0], [-1, 0, 0], [0, 0, -1]]
    T[:3, 3] = [0.3, 0.0, 1.0]
    cloud = masked_point_cloud(depth, seg, [OBJ_ID], K, T, n_points=1024, seed=0)
    assert cloud.valid and cloud.points.shape == (1024, 3) and cloud.points.dtype == np.float32
    assert cloud.num_source_points == 40 * 60
    np.testing.assert_allclose(cloud.points[:, 2], 1.0 - PLANE_Z_M, atol=1e-3)
    # Ground truth extent of the patch, from the pinhole model at the patch's pixel corners.
    x_opt = (np.array([cols.start, cols.stop - 1]) - CX) * PLANE_Z_M / FX
    y_opt = (np.array([rows.start, rows.stop - 1]) - CY) * PLANE_Z_M / FY
    base_x, base_y = 0.3 - y_opt, -x_opt
    assert cloud.points[:, 0].min() == pytest.approx(base_x.min(), abs=1e-3)
    assert cloud.points[:, 0].max() == pytest.approx(base_x.max(), abs=1e-3)
    assert cloud.points[:, 1].min() == pytest.approx(base_y.min(), abs=1e-3)
    assert cloud.points[:, 1].max() == pytest.approx(base_y.max(), abs=1e-3)
    # Seeded: the same call gives the same points; FPS never picks a pixel twice.
    again = masked_point_cloud(depth, seg, [OBJ_ID], K, T, seed=0)
    np.testing.assert_array_equal(again.points, cloud.points)
    assert len(np.unique(cloud.points, axis=0)) == 1024


def test_large_masks_are_subsampled_before_fps():
    depth, seg, _ = _scene((slice(0, 96), slice(0, 128)))    # 12288 pixels
    big_depth, big_seg = np.tile(depth, (2, 1)), np.tile(seg, (2, 1))   # 24576 > MAX_FPS_CANDIDATES
    cloud = masked_point_cloud(big_depth, big_seg, [OBJ_ID], K, np.eye(4), seed=3)
    assert cloud.valid and cloud.num_source_points == 2 * 96 * 128 and cloud.points.shape == (1024, 3)
    np.testing.assert_allclose(cloud.points[:, 2], PLANE_Z_M, atol=1e-6)


def test_pose_to_matrix_and_translation():
    T = pose_to_matrix([1, 2, 3, 0, 0, np.sin(np.pi / 4), np.cos(np.pi / 4)])   # yaw 90 deg
    np.testing.assert_allclose(T[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(T[:3, 3], [1, 2, 3])


def test_few_points_are_padded_and_empty_mask_is_flagged():
    depth, seg, _ = _scene((slice(10, 13), slice(10, 15)))   # 15 pixels
    depth[10, 10] = np.nan                                   # invalid depth is dropped
    cloud = masked_point_cloud(depth, seg, [OBJ_ID], K, np.eye(4), n_points=64)
    assert cloud.valid and cloud.num_source_points == 14 and cloud.points.shape == (64, 3)
    assert len(np.unique(cloud.points, axis=0)) == 14
    empty = masked_point_cloud(depth, seg, [99], K, np.eye(4), n_points=32)
    assert not empty.valid and empty.num_source_points == 0 and not empty.points.any()


def test_fps_spreads_points():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.01, (500, 3)), [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]])
    idx = farthest_point_sampling(pts, 4, np.random.default_rng(1))
    assert {500, 501, 502} <= set(idx.tolist())     # the three outliers are always picked
    with pytest.raises(AdaptationError, match="n: 600 > number of points 503"):
        farthest_point_sampling(pts, 600, rng)


def test_object_crop_masks_background_and_crops_tightly():
    depth, seg, (rows, cols) = _scene()
    rgb = np.random.default_rng(0).integers(1, 256, (H, W, 3), dtype=np.uint8)
    full = object_crop(rgb, seg, [OBJ_ID])
    assert full.valid and full.bbox == (cols.start, rows.start, cols.stop, rows.stop)
    assert not full.image[seg != OBJ_ID].any() and np.array_equal(full.image[seg == OBJ_ID], rgb[seg == OBJ_ID])
    crop = object_crop(rgb, seg, [OBJ_ID], out_size=(40, 60))
    np.testing.assert_array_equal(crop.image, rgb[rows, cols])     # same size: exact pixels
    small = object_crop(rgb, seg, [OBJ_ID], out_size=(20, 20), margin_px=2)
    assert small.image.shape == (20, 20, 3) and small.bbox == (38, 28, 102, 72)
    none = object_crop(rgb, seg, [42], out_size=(8, 8))
    assert not none.valid and none.image.shape == (8, 8, 3) and not none.image.any()


def test_keyposes():
    T = 6
    poses = np.zeros((T, 7))
    poses[:, 0] = np.arange(T) * 0.1
    poses[:, 6] = 1
    kp = first_contact_keypose(np.array([0, 0, 0, 1, 1, 0]), poses)
    assert kp.index == 3 and kp.pose[0] == pytest.approx(0.3) and kp.reason == "first_contact"
    assert first_contact_keypose(np.zeros(T), poses) is None
    events = gripper_keyposes(np.array([0, 0, 1, 1, 1, 0.0]), poses)
    assert [(k.index, k.reason) for k in events] == [(2, "close"), (5, "open")]
    with pytest.raises(AdaptationError, match=r"ee_poses \(T, 7\)"):
        first_contact_keypose(np.zeros(T), poses[:4])
