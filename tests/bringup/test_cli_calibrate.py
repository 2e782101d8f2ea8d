"""`dexsim calibrate hand-eye`: simulated captures -> a calibrated robot config; the saved
captures give the same pose through --captures; bad input is one line, exit 2, nothing written."""
from __future__ import annotations

import json
import shutil

import numpy as np
import yaml

from dexsim_bringup.cli import main
from dexsim_bringup.hardware import config_path, load_robot_config


def test_sim_calibration_writes_the_config_and_captures_reproduce_it(tmp_path, capsys):
    cfg = tmp_path / "wx250s.yaml"
    shutil.copy(config_path("wx250s"), cfg)
    caps = tmp_path / "caps.npz"
    assert main(["calibrate", "hand-eye", "--robot", "wx250s", "--sim", "--poses", "10", "--save-captures",
                 str(caps), "--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["error_mm"] < 5.0 and out["error_deg"] < 0.5
    loaded = load_robot_config("wx250s", cfg)
    assert loaded.hand_eye.calibrated
    np.testing.assert_allclose(loaded.hand_eye.pose, out["pose_in_base"], atol=1e-5)
    assert main(["calibrate", "hand-eye", "--robot", "wx250s", "--captures", str(caps), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    np.testing.assert_allclose(again["pose_in_base"], out["pose_in_base"], atol=1e-9)
    # the same captures recorded as a bag: the arm stops at each pose, with frames taken while it moves
    bag = tmp_path / "hand_eye_bag"
    with np.load(caps) as data:
        _write_hand_eye_bag(bag, data["images"], data["joint_positions"], data["K"])
    assert main(["calibrate", "hand-eye", "--robot", "wx250s", "--bag", str(bag), "--json"]) == 0
    from_bag = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert from_bag["poses_given"] == again["poses_given"]          # one capture per still pose, none moving
    np.testing.assert_allclose(from_bag["pose_in_base"], out["pose_in_base"], atol=1e-9)


def _write_hand_eye_bag(path, images, joints, K) -> None:
    """A rosbag2 (MCAP) as `dexsim up ... --record` writes it: the arm holds each pose 0.6 s (joint
    states at 50 Hz, one image in the middle) and moves 0.4 s to the next one (an image mid-move, of
    the next pose, which a calibration must not pair with a moving arm)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from dexsim_sim.robots.registry import get_robot

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = store.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]
    names = list(get_robot("wx250s").arm_joints)

    def header(t, frame=""):
        return Header(stamp=Time(sec=int(t), nanosec=int(round((t % 1) * 1e9))), frame_id=frame)

    def image(t, rgb):
        h, w, _ = rgb.shape
        return T["sensor_msgs/msg/Image"](header=header(t, "stereo_left_optical_frame"), height=h, width=w,
                                          encoding="rgb8", is_bigendian=0, step=w * 3, data=rgb.reshape(-1))

    def info(t, rgb):
        h, w, _ = rgb.shape
        roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return T["sensor_msgs/msg/CameraInfo"](
            header=header(t, "stereo_left_optical_frame"), height=h, width=w, distortion_model="plumb_bob",
            d=np.zeros(5), k=np.asarray(K, float).reshape(-1), r=np.eye(3).reshape(-1),
            p=np.hstack([K, np.zeros((3, 1))]).reshape(-1), binning_x=0, binning_y=0, roi=roi)

    def joint_state(t, q):
        return T["sensor_msgs/msg/JointState"](header=header(t), name=names, position=np.asarray(q, float),
                                               velocity=np.zeros(len(q)), effort=np.zeros(len(q)))

    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {topic: writer.add_connection(topic, kind, typestore=store) for topic, kind in (
            ("/stereo/left/image_rect", "sensor_msgs/msg/Image"),
            ("/stereo/left/camera_info", "sensor_msgs/msg/CameraInfo"), ("/joint_states", "sensor_msgs/msg/JointState"))}
        records = []
        for i, (rgb, q) in enumerate(zip(images, joints)):
            t0 = 1.0 + i
            records += [(t0 + k * 0.02, "/joint_states", joint_state(t0 + k * 0.02, q)) for k in range(30)]
            records += [(t0 + 0.3, "/stereo/left/image_rect", image(t0 + 0.3, rgb)),
                        (t0 + 0.3, "/stereo/left/camera_info", info(t0 + 0.3, rgb))]
            if i + 1 < len(joints):                      # the move to the next pose
                nxt = joints[i + 1]
                records += [(t0 + 0.6 + k * 0.02, "/joint_states",
                             joint_state(t0 + 0.6 + k * 0.02, q + (nxt - q) * (k + 1) / 20)) for k in range(20)]
                records.append((t0 + 0.8, "/stereo/left/image_rect", image(t0 + 0.8, images[i + 1])))
        for t, topic, msg in sorted(records, key=lambda r: r[0]):
            writer.write(conns[topic], int(t * 1e9), store.serialize_cdr(msg, conns[topic].msgtype))


def test_bad_captures_are_one_line_and_write_nothing(tmp_path, capsys):
    cfg = tmp_path / "wx250s.yaml"
    shutil.copy(config_path("wx250s"), cfg)
    before = cfg.read_text()
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 8, 8, 3), np.uint8), joint_positions=np.zeros((3, 2)), K=np.eye(3))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    cases = [(["--captures", str(tmp_path / "missing.npz")], "not a readable npz"),
             (["--captures", str(tmp_path / "junk.npz")], "not a readable npz"),
             (["--captures", str(bad)], "joint_positions must be (3, 6)")]
    for extra, message in cases:
        try:
            rc = main(["calibrate", "hand-eye", "--robot", "wx250s", *extra, "--config", str(cfg)])
        except SystemExit as exc:
            rc = exc.code
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err
    assert cfg.read_text() == before and yaml.safe_load(before)
