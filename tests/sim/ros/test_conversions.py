"""Round trips of the numpy <-> ROS message conversions, with no ROS graph."""
from __future__ import annotations

import numpy as np
import pytest
from control_msgs.action import FollowJointTrajectory
from control_msgs.msg import JointTolerance

from dexsim_sim.robots.transforms import matrix_to_pose, pose_to_matrix, rpy_to_matrix
from dexsim_sim.ros import conversions as cv
from dexsim_sim.world.camera import StereoRig

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("image, encoding", [
    (RNG.integers(0, 255, (5, 7, 3), dtype=np.uint8), "rgb8"),
    (RNG.integers(0, 255, (5, 7), dtype=np.uint8), "mono8"),
    (RNG.integers(0, 65535, (5, 7), dtype=np.uint16), "16UC1"),
    (RNG.random((5, 7), dtype=np.float32), "32FC1"),
    (RNG.integers(-1, 9, (5, 7), dtype=np.int32), "32SC1"),
])
def test_image_round_trip(image, encoding):
    msg = cv.image_to_msg(image, stamp=1.25, frame_id="stereo_left_optical_frame")
    assert msg.encoding == encoding and msg.step == image.shape[1] * image.itemsize * (image.shape[2] if image.ndim == 3 else 1)
    assert msg.header.frame_id == "stereo_left_optical_frame" and msg.header.stamp.sec == 1
    back = cv.msg_to_image(msg)
    assert back.dtype == image.dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)


def test_image_with_row_padding():
    image = RNG.integers(0, 255, (4, 3, 3), dtype=np.uint8)
    msg = cv.image_to_msg(image)
    pad = 7
    rows = np.zeros((4, 9 + pad), np.uint8)
    rows[:, :9] = image.reshape(4, 9)
    msg.step, msg.data = 9 + pad, rows.tobytes()
    np.testing.assert_array_equal(cv.msg_to_image(msg), image)


def test_big_endian_depth_is_read():
    depth = RNG.random((3, 4)).astype(np.float32)
    msg = cv.image_to_msg(depth)
    msg.is_bigendian, msg.data = 1, depth.astype(">f4").tobytes()
    np.testing.assert_array_equal(cv.msg_to_image(msg), depth)


def _padded_msg(raw: np.ndarray, encoding: str, pad: int, bigendian: bool = False):
    """A sensor_msgs/Image of ``raw`` whose rows carry ``pad`` extra bytes (an odd step)."""
    from sensor_msgs.msg import Image

    h, w = raw.shape[:2]
    body = raw.astype(raw.dtype.newbyteorder(">" if bigendian else "<")).reshape(h, -1).view(np.uint8)
    rows = np.full((h, body.shape[1] + pad), 0xAB, np.uint8)     # padding bytes that must not leak in
    rows[:, :body.shape[1]] = body
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian), step=rows.shape[1],
                 data=rows.tobytes())


RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding, raw, expected", [
    ("rgb8", RGB, RGB),
    ("bgr8", RGB[..., ::-1].copy(), RGB),
    ("rgba8", np.concatenate([RGB, np.full((5, 7, 1), 9, np.uint8)], axis=2), RGB),
    ("bgra8", np.concatenate([RGB[..., ::-1], np.full((5, 7, 1), 9, np.uint8)], axis=2), RGB),
    ("mono8", RGB[..., 0].copy(), np.repeat(RGB[..., :1], 3, axis=2)),
    ("mono16", RGB[..., 0].astype(np.uint16) * 256 + 77, np.repeat(RGB[..., :1], 3, axis=2)),
])
@pytest.mark.parametrize("pad", [0, 3])
def test_every_camera_encoding_becomes_the_policys_rgb(encoding, raw, expected, pad):
    rgb = cv.msg_rgb(_padded_msg(raw, encoding, pad))
    assert rgb.dtype == np.uint8 and rgb.shape == (5, 7, 3)
    np.testing.assert_array_equal(rgb, expected)


@pytest.mark.parametrize("encoding, raw, metres", [
    ("16UC1", np.array([[0, 1000, 2345]], np.uint16), [[0.0, 1.0, 2.345]]),
    ("mono16", np.array([[0, 500, 65535]], np.uint16), [[0.0, 0.5, 65.535]]),
    ("32FC1", np.array([[np.nan, 1.5, 0.25]], np.float32), [[np.nan, 1.5, 0.25]]),
    ("64FC1", np.array([[0.0, 1.5, 3.0]], np.float64), [[0.0, 1.5, 3.0]]),
])
@pytest.mark.parametrize("pad, bigendian", [(0, False), (5, False), (1, True)])
def test_depth_encodings_become_metres(encoding, raw, metres, pad, bigendian):
    depth = cv.msg_depth_m(_padded_msg(raw, encoding, pad, bigendian))
    assert depth.dtype == np.float32 and depth.shape == raw.shape
    np.testing.assert_allclose(depth, np.asarray(metres, np.float32), rtol=1e-6, equal_nan=True)


def test_unpadded_rgb_is_a_view_of_the_message_buffer():
    data = np.ascontiguousarray(RGB).reshape(-1)
    arr = cv.image_array(data, 5, 7, "rgb8")
    assert np.shares_memory(arr, data)
    assert cv.to_rgb(arr, "rgb8") is arr


@pytest.mark.parametrize("call, encoding, match", [
    (cv.msg_rgb, "16UC1", "is not a colour image .a depth encoding"),
    (cv.msg_rgb, "yuv422", "unsupported 'yuv422'"),
    (cv.msg_depth_m, "rgb8", "is not a depth image"),
])
def test_wrong_kind_of_image_is_a_clear_error(call, encoding, match):
    from sensor_msgs.msg import Image

    msg = Image(height=1, width=2, encoding=encoding, step=6, data=bytes(6))
    with pytest.raises(cv.ConversionError, match=match):
        call(msg)


@pytest.mark.parametrize("image, encoding, match", [
    (np.zeros((4, 4, 3), np.float32), "rgb8", "needs dtype uint8"),
    (np.zeros((4, 4), np.uint8), "rgb8", "3 channel"),
    (np.zeros((4, 4), np.float32), "yuv422", "unsupported"),
    (np.zeros((4,), np.uint8), None, "expected an"),
    (np.zeros((4, 4, 2), np.uint8), None, "no default encoding"),
])
def test_image_encoding_errors(image, encoding, match):
    with pytest.raises(cv.ConversionError, match=match):
        cv.image_to_msg(image, encoding)


def test_truncated_image_data_raises():
    msg = cv.image_to_msg(np.zeros((4, 4), np.uint8))
    msg.data = bytes(10)
    with pytest.raises(cv.ConversionError, match="expected step"):
        cv.msg_to_image(msg)
    msg.step = 2
    with pytest.raises(cv.ConversionError, match="less than a row"):
        cv.msg_to_image(msg)


def test_camera_info_from_rig():
    rig = StereoRig(width=160, height=128, hfov_deg=75.0, baseline=0.05)
    left, right = cv.camera_info_msg(rig.camera_info("left"), 2.0), cv.camera_info_msg(rig.camera_info("right"), 2.0)
    assert (left.width, left.height) == (160, 128) and left.header.frame_id == "stereo_left_optical_frame"
    np.testing.assert_allclose(left.k, [rig.fx, 0, 80, 0, rig.fx, 64, 0, 0, 1])
    assert right.p[3] == pytest.approx(-rig.fx * 0.05) and left.p[3] == 0.0
    assert right.header.frame_id == "stereo_right_optical_frame" and len(left.d) == 5


def test_joint_state():
    msg = cv.joint_state_msg(["a", "b"], [0.1, 0.2], [1.0, 2.0], stamp=3.5)
    assert list(msg.name) == ["a", "b"] and list(msg.velocity) == [1.0, 2.0] and list(msg.effort) == []
    assert cv.to_seconds(msg.header.stamp) == 3.5
    with pytest.raises(cv.ConversionError, match="position: expected 2"):
        cv.joint_state_msg(["a", "b"], [0.1])


def test_transform_round_trip_matrix_and_pose():
    tf = pose_to_matrix(np.array([0.1, -0.2, 0.3, 0, 0, 0, 1.0]))
    tf[:3, :3] = rpy_to_matrix((0.3, -0.5, 1.2))
    msg = cv.transform_msg("world", "base_link", tf, stamp=0.5)
    assert msg.header.frame_id == "world" and msg.child_frame_id == "base_link"
    np.testing.assert_allclose(cv.transform_to_matrix(msg), tf, atol=1e-12)
    msg7 = cv.transform_msg("world", "x", matrix_to_pose(tf))
    np.testing.assert_allclose(cv.transform_to_matrix(msg7), tf, atol=1e-12)
    out = cv.tf_message([msg, msg7])
    assert [t.child_frame_id for t in out.transforms] == ["base_link", "x"]
    with pytest.raises(cv.ConversionError, match="4x4 matrix or a 7-vector"):
        cv.transform_msg("a", "b", np.zeros(6))


@pytest.mark.parametrize("seconds", [0.0, 1.5, 12.000000001, 1e6 + 0.25])
def test_time_and_duration(seconds):
    assert cv.to_seconds(cv.time_msg(seconds)) == pytest.approx(seconds, abs=1e-9)
    assert cv.to_seconds(cv.duration_msg(-seconds)) == pytest.approx(-seconds, abs=1e-9)
    assert 0 <= cv.duration_msg(-seconds).nanosec < cv.NS_PER_S
    with pytest.raises(cv.ConversionError):
        cv.time_msg(-1.0)


def test_trajectory_round_trip_and_goal():
    names = ["j1", "j2", "j3"]
    times = np.array([0.5, 1.0, 2.0])
    pos, vel = RNG.random((3, 3)), RNG.random((3, 3))
    msg = cv.joint_trajectory_msg(names, times, pos, velocities=vel, stamp=4.0)
    n2, t2, p2, v2, a2 = cv.joint_trajectory_to_arrays(msg)
    assert n2 == names and a2 is None
    np.testing.assert_allclose(t2, times)
    np.testing.assert_allclose(p2, pos)
    np.testing.assert_allclose(v2, vel)
    goal = FollowJointTrajectory.Goal(trajectory=msg, goal_time_tolerance=cv.duration_msg(0.5),
                                      goal_tolerance=[JointTolerance(name="j2", position=0.1)])
    plain = cv.follow_joint_trajectory_goal(goal)
    assert plain.joint_names == tuple(names) and plain.header_stamp == 4.0 and plain.goal_time_tolerance == 0.5
    assert plain.points[1].time_from_start == 1.0 and plain.points[2].positions == tuple(pos[2])
    assert plain.goal_tolerance[0].name == "j2" and plain.goal_tolerance[0].position == pytest.approx(0.1)
    with pytest.raises(cv.ConversionError, match="positions: expected shape"):
        cv.joint_trajectory_msg(names, times, pos[:, :2])


def test_scene_description_to_scene_dict_keeps_the_base_and_reads_zero_as_default():
    from dexsim_msgs.msg import ObjectSpec, SceneDescription

    from dexsim_sim.tasks.grasp import GraspTask
    from dexsim_sim.world.scene import Scene, load_scene

    base = load_scene(GraspTask.scene_path("sr3")).to_dict()
    msg = SceneDescription(name="from_msg", table_texture="marble")
    obj = ObjectSpec(name="a", category="box", asset_id="box_small", role="target", friction=0.9)
    obj.pose.position.y, obj.pose.orientation.w = 0.1, 1.0
    obj.scale.x, obj.scale.y, obj.scale.z = 1.0, 1.0, 1.2
    msg.objects.append(obj)
    d = cv.scene_dict_from_msg(msg, base)
    assert d["name"] == "from_msg" and d["robot"] == base["robot"] and d["cameras"] == base["cameras"]
    assert d["table"]["texture"] == "marble"
    assert d["objects"] == [{"name": "a", "category": "box", "asset": "box_small", "pose": [0, 0.1, 0, 0, 0, 0, 1],
                             "scale": [1.0, 1.0, 1.2], "friction": 0.9, "role": "target"}]
    scene = Scene.from_dict(d)                  # valid; colour and mass fall back to the asset's
    assert scene.object("a").mass is None and scene.object("a").color is None


def test_transform_msg_refills_a_message_in_place():
    tf = pose_to_matrix(np.array([0.1, -0.2, 0.3, 0, 0, 0, 1.0]))
    msg = cv.transform_msg("world", "a", tf, stamp=0.5)
    pose = matrix_to_pose(tf)
    pose[:3] += 0.5
    again = cv.transform_msg("world", "a", pose, stamp=1.25, into=msg)
    assert again is msg and msg.header.stamp.sec == 1 and msg.header.stamp.nanosec == 250_000_000
    expected = tf.copy()
    expected[:3, 3] += 0.5
    np.testing.assert_allclose(cv.transform_to_matrix(msg), expected, atol=1e-12)
    with pytest.raises(cv.ConversionError, match="zero quaternion"):
        cv.transform_msg("a", "b", np.zeros(7))
