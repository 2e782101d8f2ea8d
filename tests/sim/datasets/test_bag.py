"""MCAP rosbag2 export, read back with rosbags and with the mcap reader + mcap_ros2 decoder."""
from __future__ import annotations

from collections import Counter

import numpy as np
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from dexsim_sim.datasets.bag import export_episode_bag

T = 3
EXPECTED = {"/stereo/left/image_rect": ("sensor_msgs/msg/Image", T),
            "/stereo/right/image_rect": ("sensor_msgs/msg/Image", T),
            "/stereo/left/camera_info": ("sensor_msgs/msg/CameraInfo", T),
            "/stereo/right/camera_info": ("sensor_msgs/msg/CameraInfo", T),
            "/stereo/depth": ("sensor_msgs/msg/Image", T), "/joint_states": ("sensor_msgs/msg/JointState", T),
            "/tf": ("tf2_msgs/msg/TFMessage", T), "/tf_static": ("tf2_msgs/msg/TFMessage", 1)}


def test_bag_reads_back_with_rosbags_and_mcap(tmp_path, episode_factory):
    ep = episode_factory(3, T=T)
    out = export_episode_bag(ep, tmp_path / "ep3", step_period_s=0.1, start_time_ns=5 * 10**9)
    ts = get_typestore(Stores.ROS2_KILTED)
    with Reader(out) as r:
        assert r.message_count == sum(n for _, n in EXPECTED.values())
        assert {c.topic: (c.msgtype, c.msgcount) for c in r.connections} == EXPECTED
        msgs = {}
        for conn, t, raw in r.messages():
            msgs.setdefault(conn.topic, []).append((t, ts.deserialize_cdr(raw, conn.msgtype)))
    img_t, img = msgs["/stereo/left/image_rect"][2]
    assert img_t == 5 * 10**9 + 2 * 10**8 and img.header.stamp.sec == 5 and img.header.stamp.nanosec == 2 * 10**8
    assert img.encoding == "rgb8" and img.header.frame_id == "stereo_left_optical_frame"
    np.testing.assert_array_equal(img.data.reshape(12, 16, 3), ep.obs["left_rgb"][2])
    _, depth = msgs["/stereo/depth"][1]
    assert depth.encoding == "32FC1" and depth.step == 16 * 4
    np.testing.assert_array_equal(depth.data.view("<f4").reshape(12, 16), ep.obs["depth"][1])
    _, right_info = msgs["/stereo/right/camera_info"][0]
    assert right_info.p[3] == -20.0 * 0.05 and right_info.k[2] == 8.0
    _, js = msgs["/joint_states"][0]
    assert list(js.name) == ep.extra["joint_names"]
    np.testing.assert_allclose(js.position, ep.obs["joint_pos"][0], rtol=1e-6)
    _, tf = msgs["/tf"][1]
    tr = tf.transforms[0]
    assert (tr.header.frame_id, tr.child_frame_id) == ("base_link", "ee_link")
    np.testing.assert_allclose([tr.transform.translation.x, tr.transform.translation.y, tr.transform.translation.z],
                               ep.obs["ee_pose"][1, :3], rtol=1e-6)

    (mcap_file,) = out.glob("*.mcap")
    counts: Counter[str] = Counter()
    with open(mcap_file, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for schema, channel, _message, decoded in reader.iter_decoded_messages():
            counts[channel.topic] += 1
            assert schema.name == EXPECTED[channel.topic][0]
            if channel.topic == "/stereo/left/camera_info":
                assert decoded.width == 16 and decoded.height == 12 and decoded.k[0] == 20.0
            if channel.topic == "/tf_static":
                assert decoded.transforms[0].child_frame_id == "stereo_left_optical_frame"
    assert dict(counts) == {k: n for k, (_, n) in EXPECTED.items()}
