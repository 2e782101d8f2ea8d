"""The recorder node records a running sim node into an MCAP rosbag2 that two independent readers
(rosbags, mcap + mcap_ros2) read back with the right types, hashes, QoS and counts; and
`dexsim bag2dataset` turns that bag into a readable DexSim dataset."""
from __future__ import annotations

import signal
import sys
from collections import Counter

import pytest
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image

from dexsim_bringup.graph import RECORD_TOPICS, recorder_node
from dexsim_bringup.launcher import write_params
from dexsim_bringup.recording import BagRecorder, RecordingError, TopicQos, installed_type_hash

IMAGES_BEFORE_STOP = 15
EXIT_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A bag of ~1.5 s of sim time of the wx250s sim at 96x128 (recorder stopped with SIGINT)."""
    RosHarness = next(m.RosHarness for m in list(sys.modules.values()) if hasattr(m, "RosHarness"))  # tests/conftest.py

    tmp = tmp_path_factory.mktemp("rec")
    bag = tmp / "bag"
    ros = RosHarness("recorder_test")
    try:
        images = []
        ros.node.create_subscription(Image, "/stereo/depth", images.append, qos_profile_sensor_data)
        params = write_params(recorder_node(str(bag)), tmp)
        recorder = ros.spawn([sys.executable, "-m", "dexsim_bringup.nodes.recorder_node", "--ros-args",
                              "--params-file", str(params)], "recorder")
        sim = ros.spawn([sys.executable, "-m", "dexsim_sim.nodes.sim_node", "--ros-args", "-p", "robot:=wx250s",
                         "-p", "image_width:=128", "-p", "image_height:=96", "-p", "real_time_factor:=0.0"], "sim")
        following = lambda: ros.peer_log(recorder).count("following ") == len(RECORD_TOPICS)  # noqa: E731
        assert ros.wait_for(following, 60), ros.peer_log(sim) + ros.peer_log(recorder)
        images.clear()
        assert ros.wait_for(lambda: len(images) >= IMAGES_BEFORE_STOP, 60), ros.peer_log(sim) + ros.peer_log(recorder)
        recorder.send_signal(signal.SIGINT)
        assert recorder.wait(EXIT_TIMEOUT_S) == 0, ros.peer_log(recorder)
        log = ros.peer_log(recorder)
    finally:
        ros.close()
    return bag, log


def test_bag_has_every_topic_with_types_hashes_and_qos(recorded):
    from rosbags.rosbag2 import Reader

    bag, log = recorded
    assert (bag / "metadata.yaml").is_file() and "closed" in log
    with Reader(bag) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert set(conns) == set(RECORD_TOPICS)
        import yaml
        meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        assert meta["storage_identifier"] == "mcap" and meta["version"] == 9
        for topic, conn in conns.items():
            assert conn.digest == installed_type_hash(conn.msgtype), topic
            assert conn.msgcount >= 1, topic
        assert conns["/tf"].msgtype == "tf2_msgs/msg/TFMessage"
        assert conns["/stereo/depth"].msgtype == "sensor_msgs/msg/Image"
        assert conns["/joint_states"].msgcount > conns["/stereo/depth"].msgcount >= IMAGES_BEFORE_STOP - 5
        assert conns["/tf_static"].msgcount == conns["/robot_description"].msgcount == 1   # latched, once
        durability = {t: c.ext.offered_qos_profiles[0].durability.name for t, c in conns.items()}
        reliability = {t: c.ext.offered_qos_profiles[0].reliability.name for t, c in conns.items()}
        assert durability["/tf_static"] == durability["/robot_description"] == "TRANSIENT_LOCAL"
        assert durability["/tf"] == "VOLATILE" and reliability["/stereo/left/image_rect"] == "BEST_EFFORT"
        assert reliability["/joint_states"] == "RELIABLE"
        from rosbags.typesys import Stores, get_typestore
        store = get_typestore(Stores.ROS2_KILTED)
        static = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages([conns["/tf_static"]])]
        assert {t.child_frame_id for t in static[0].transforms} >= {"base_link", "stereo_left_optical_frame"}


def test_mcap_reader_decodes_the_same_messages(recorded):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader

    bag, _ = recorded
    with Reader(bag) as reader:
        expected = Counter({(c.topic, c.msgtype): c.msgcount for c in reader.connections})
    (mcap_file,) = bag.glob("*.mcap")
    got: Counter = Counter()
    with open(mcap_file, "rb") as fh:
        for schema, channel, _, msg in make_reader(fh, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            got[(channel.topic, schema.name)] += 1
            if channel.topic == "/stereo/left/image_rect":
                assert (msg.encoding, msg.height, msg.width) == ("rgb8", 96, 128), "another sim in this ROS domain?"
            if channel.topic == "/joint_states":
                assert "waist" in msg.name
    assert got == expected, (got, expected)


def test_bag2dataset_makes_a_readable_dataset(recorded, tmp_path):
    from dexsim_bringup.cli import main
    from dexsim_sim.datasets.hdf5 import DatasetReader

    bag, _ = recorded
    assert main(["bag2dataset", str(bag), "--out", str(tmp_path / "ds"), "--robot", "wx250s", "--seed", "7"]) == 0
    reader = DatasetReader(tmp_path / "ds")
    assert len(reader) == 1
    ep = reader.episode(7)
    from rosbags.rosbag2 import Reader
    with Reader(bag) as r:
        n_left = next(c.msgcount for c in r.connections if c.topic == "/stereo/left/image_rect")
    assert ep.num_steps == n_left and ep.obs["left_rgb"].shape == (n_left, 96, 128, 3)
    assert ep.actions.shape == (n_left, 21) and ep.dones[-1] and not ep.dones[:-1].any()
    assert ep.obs["depth"].dtype.name == "float32" and float(ep.obs["depth"].max()) > 0


def test_bag2dataset_without_images_writes_a_seed_trajectory(recorded, tmp_path):
    import json

    from dexsim_bringup.bag_dataset import ConversionConfig, convert_bag
    from rosbags.rosbag2 import Reader, Writer, StoragePlugin

    bag, _ = recorded
    only_joints = tmp_path / "joints"
    with Reader(bag) as reader, Writer(only_joints, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = next(c for c in reader.connections if c.topic == "/joint_states")
        out = writer.add_connection(conn.topic, conn.msgtype, msgdef=conn.msgdef.data, rihs01=conn.digest)
        for _, stamp, raw in reader.messages([conn]):
            writer.write(out, stamp, raw)
    path = convert_bag(only_joints, tmp_path / "traj", ConversionConfig("wx250s", hz=20.0))
    traj = json.loads(path.read_text())
    assert traj["joint_names"][:6] == ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]
    assert len(traj["positions"]) == len(traj["times_s"]) >= 2 and len(traj["positions"][0]) == 8


def test_custom_types_are_registered_from_installed_definitions(tmp_path):
    """dexsim_msgs is not in rosbags' typestore: its .msg files are, and the hash matches the build."""
    from dexsim_msgs.msg import SceneDescription
    from rosbags.rosbag2 import Reader

    from dexsim_bringup.recording import build_typestore

    msg = SceneDescription(name="bagged", robot="sr3")
    with BagRecorder(tmp_path / "b") as rec:
        rec.add_topic("/scene", "dexsim_msgs/msg/SceneDescription", [TopicQos(durability="transient_local", depth=1)])
        rec.write("/scene", 5, serialize_message(msg))
        with pytest.raises(RecordingError, match="added twice"):
            rec.add_topic("/scene", "dexsim_msgs/msg/SceneDescription", [])
    with Reader(tmp_path / "b") as reader:
        (conn,) = reader.connections
        assert conn.digest == installed_type_hash("dexsim_msgs/msg/SceneDescription")
        store = build_typestore([conn.msgtype])
        back = [store.deserialize_cdr(raw, conn.msgtype) for _, _, raw in reader.messages()]
    assert [(m.name, m.robot) for m in back] == [("bagged", "sr3")]
    with pytest.raises(RecordingError, match="exists already"):
        BagRecorder(tmp_path / "b")
    with pytest.raises(RecordingError, match="reliability: expected one of"):
        TopicQos(reliability="sometimes")
    with pytest.raises(RecordingError, match="type nosuch_msgs/msg/X: not in the"):
        build_typestore(["nosuch_msgs/msg/X"])
