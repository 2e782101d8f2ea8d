"""Retargeting synthetic hand demonstrations to a parallel gripper, object-aware refinement, bags."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.projection.hand_track import HandFrame, HandTrack, SyntheticDemoConfig, look_at_camera, synthesize_demo
from dexsim_sim.projection.retarget import (KEYPOSE_LABELS, BagError, RetargetError, estimate_object_track,
                                            load_joint_trajectory_bag, load_keyposes, refine_grasp, retarget,
                                            sample_depth, save_keyposes)
from dexsim_sim.robots.transforms import quat_to_matrix

CAMERA = look_at_camera()
SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def retargeted():
    out = []
    for seed in SEEDS:
        demo = synthesize_demo(SyntheticDemoConfig(seed=seed), CAMERA)
        out.append((demo, retarget(demo.track, CAMERA.base_from_optical)))
    return out


def test_gripper_positions_within_1cm_and_grasp_frame_within_2(retargeted):
    worst, frame_errors = 0.0, []
    for demo, seq in retargeted:
        gt = demo.gripper_positions[seq.dense_frames]
        err = np.linalg.norm(seq.dense_poses[:, :3] - gt, axis=1)
        worst = max(worst, float(err.max()))
        frame_errors.append(abs(seq.frames[KEYPOSE_LABELS.index("grasp")] - demo.grasp_frame))
        assert abs(seq.frames[KEYPOSE_LABELS.index("release")] - demo.release_frame) <= 2
    print(f"max position error {worst * 1000:.1f} mm, grasp frame errors {frame_errors}")
    assert worst < 0.01
    assert max(frame_errors) <= 2


def test_gripper_axes_and_opening(retargeted):
    demo, seq = retargeted[0]
    g = seq.meta["grasp_index"]
    rot = quat_to_matrix(seq.dense_poses[g, 3:])
    assert rot[:, 0] @ np.array([0.0, 0.0, -1.0]) > 0.97                 # approach points down
    yaw = SyntheticDemoConfig().yaw_rad
    assert abs(rot[:, 1] @ np.array([np.cos(yaw), np.sin(yaw), 0.0])) > 0.97
    assert seq.dense_openings.max() <= 0.085 + 1e-9                        # clipped to the stroke
    assert seq.openings[KEYPOSE_LABELS.index("grasp")] == pytest.approx(0.05, abs=0.008)
    assert seq.dense_closed[g + 5] and not seq.dense_closed[0]
    times = seq.times
    assert list(seq.labels) == list(KEYPOSE_LABELS) and np.all(np.diff(times) >= 0)
    lift = seq.keypose("lift")
    assert lift[2] > seq.keypose("grasp")[2] + 0.025


def test_keypose_file_round_trip(retargeted, tmp_path):
    _, seq = retargeted[1]
    back = load_keyposes(save_keyposes(seq, tmp_path / "keyposes.json"))
    assert back.labels == seq.labels and back.frames == seq.frames
    assert np.allclose(back.dense_poses, seq.dense_poses) and np.array_equal(back.dense_closed, seq.dense_closed)


def test_depth_image_path_matches_per_landmark_depth():
    demo = synthesize_demo(SyntheticDemoConfig(seed=5, depth_sigma_m=0.0, drop_rate=0.0), CAMERA)
    depth_images = {}
    for f in demo.track.frames:
        img = np.full((CAMERA.height, CAMERA.width), np.nan, np.float32)
        for (u, v), z in zip(f.uv, f.depth):
            iu, iv = int(round(u)), int(round(v))
            img[iv - 1:iv + 2, iu - 1:iu + 2] = z
        img[int(round(f.uv[8][1])), int(round(f.uv[8][0]))] = 9.0        # an outlier pixel under the index tip
        depth_images[f.frame] = img
    frames = [HandFrame(f.frame, f.t, True, 1.0, f.uv) for f in demo.track.frames]   # no per-landmark depth
    track = HandTrack(frames, demo.track.image_size, demo.track.K)
    seq = retarget(track, CAMERA.base_from_optical, depth_images=depth_images)
    err = np.linalg.norm(seq.dense_poses[:, :3] - demo.gripper_positions[seq.dense_frames], axis=1)
    assert err.max() < 0.01
    assert np.isnan(sample_depth(np.full((4, 4), np.nan), np.array([[1.0, 1.0]]), 3)[0])


def test_object_track_and_grasp_refinement():
    offset = np.array([0.014, 0.002, 0.0])               # the human pinched 1.4 cm off the object centre
    demo = synthesize_demo(SyntheticDemoConfig(seed=7, grasp_offset_m=tuple(offset)), CAMERA)
    seq = retarget(demo.track, CAMERA.base_from_optical)
    rng = np.random.default_rng(0)
    observed = demo.object_positions[seq.dense_frames] + rng.normal(0.0, 0.004, (len(seq.dense_frames), 3))
    observed[rng.random(len(observed)) < 0.2] = np.nan   # the object is not seen in some frames
    obj = estimate_object_track(seq, observed)
    track_err = np.linalg.norm(obj.positions - demo.object_positions[seq.dense_frames], axis=1)
    assert np.median(track_err) < 0.006

    g = seq.meta["grasp_index"]
    closing = quat_to_matrix(seq.dense_poses[g, 3:])[:, 1]
    truth = demo.object_positions[seq.dense_frames[g]]
    before = abs((seq.dense_poses[g, :3] - truth) @ closing)
    refined = refine_grasp(seq, obj)
    after = abs((refined.dense_poses[g, :3] - truth) @ closing)
    print(f"grasp offset along the closing axis: {before * 1000:.1f} mm -> {after * 1000:.1f} mm")
    assert before > 0.01 and after < 0.004
    place_shift = refined.keypose("place")[:3] - seq.keypose("place")[:3]
    assert np.allclose(place_shift, refined.dense_poses[g, :3] - seq.dense_poses[g, :3])   # rigid shift


def test_retarget_errors():
    demo = synthesize_demo(SyntheticDemoConfig(seed=0), CAMERA)
    flat = [HandFrame(f.frame, f.t, True, 1.0, f.uv, np.full(21, 0.8)) for f in demo.track.frames[:40]]
    for f in flat:
        f.uv = demo.track.frames[0].uv.copy()              # a hand that never moves its fingers
    with pytest.raises(RetargetError, match="no grasp"):
        retarget(HandTrack(flat, demo.track.image_size, demo.track.K), CAMERA.base_from_optical)
    gappy = [demo.track.frames[0]] + demo.track.frames[60:]
    with pytest.raises(RetargetError, match="dropped frames in a row"):
        retarget(HandTrack(gappy, demo.track.image_size, demo.track.K), CAMERA.base_from_optical)


def _write_bag(path, storage: str) -> None:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    JointState = store.types["sensor_msgs/msg/JointState"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        conn = writer.add_connection("/joint_states", JointState.__msgtype__, typestore=store)
        for i in range(5):
            names = ["joint1", "joint2"] if i != 2 else ["joint2", "joint1"]
            pos = [0.1 * i, -0.2 * i] if i != 2 else [-0.4, 0.2]
            msg = JointState(header=Header(stamp=Time(sec=100, nanosec=i * 100_000_000), frame_id=""),
                             name=names, position=np.array(pos), velocity=np.array([]), effort=np.array([]))
            writer.write(conn, 1000 + i, store.serialize_cdr(msg, JointState.__msgtype__))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_joint_trajectory_bag(tmp_path, storage):
    bag = tmp_path / f"teleop_{storage}"
    _write_bag(bag, storage)
    rec = load_joint_trajectory_bag(bag)
    assert rec.names == ["joint1", "joint2"]
    assert np.allclose(rec.times, [0.0, 0.1, 0.2, 0.3, 0.4])
    assert np.allclose(rec.positions[:, 0], [0.0, 0.1, 0.2, 0.3, 0.4])    # reordered message matched by name
    assert np.allclose(rec.positions[:, 1], [0.0, -0.2, -0.4, -0.6, -0.8])
    assert rec.velocities is None
    with pytest.raises(BagError, match="not in the bag"):
        load_joint_trajectory_bag(bag, topic="/other")
    with pytest.raises(BagError, match="not found"):
        load_joint_trajectory_bag(tmp_path / "nothing")


def test_garbled_keypose_file_is_a_named_error(tmp_path):
    import pytest

    from dexsim_sim.projection.retarget import RetargetError, load_keyposes

    bad = tmp_path / "keyposes.json"
    bad.write_text('{"labels": ["approach", ')
    with pytest.raises(RetargetError, match=r"keyposes.json:1:\d+: invalid JSON"):
        load_keyposes(bad)
