"""The real bringup with the sim node standing in for the vendor drivers: the very policy node of
the hardware graph comes up, in dry run (the hardware default) it publishes the trajectories it
would send and sends no goal, and the recorder writes a bag that an independent reader reads."""
from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from dexsim_bringup import graph as g
from dexsim_bringup.bench_policy import _bench_checkpoint
from dexsim_bringup.launcher import Launcher
from dexsim_msgs.srv import SetPolicyActive
from dexsim_policy.models import ACTConfig
from dexsim_sim.robots.registry import get_robot

pytestmark = pytest.mark.ros
ROBOT = "wx250s"
IMAGE_HW = (48, 64)


def test_real_graph_with_sim_stand_in_runs_the_policy_node_in_dry_run(ros, tmp_path):
    ckpt = _bench_checkpoint(ACTConfig(image_size=IMAGE_HW), tmp_path / "ckpt", seed=0)
    bag = tmp_path / "bag"
    graph = g.real_graph(ROBOT, "realsense", str(ckpt), driver="sim", record=str(bag),
                         image_width=IMAGE_HW[1], image_height=IMAGE_HW[0])
    assert graph.node("dexsim_policy").parameters["dry_run"] is True      # the hardware default
    dry: list[JointTrajectory] = []
    joints: list[JointState] = []
    ros.node.create_subscription(JointTrajectory, g.DRY_RUN_TOPIC, dry.append, 10)
    ros.node.create_subscription(JointState, "/joint_states", joints.append, 10)
    activate = ros.node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
    with Launcher(graph, log_dir=tmp_path / "logs", quiet=True) as launcher:
        assert activate.wait_for_service(timeout_sec=90), [n.log.read_text()[-1500:] for n in launcher.nodes]
        assert ros.wait_for(lambda: len(joints) > 5, 30)
        start = np.array(joints[-1].position[:6])
        assert ros.call(activate, SetPolicyActive.Request(active=True), 30).success
        ok = ros.wait_for(lambda: len(dry) >= 3, 60)
        launcher.check_alive()
        assert ok, [n.log.read_text()[-1500:] for n in launcher.nodes]
        # dry run: no goal reached the (stand-in) controllers, so the arm has not moved
        end = np.array(joints[-1].position[:6])
        np.testing.assert_allclose(end, start, atol=1e-3)
        ros.call(activate, SetPolicyActive.Request(active=False), 30)
    spec = get_robot(ROBOT)
    assert list(dry[-1].joint_names) == list(spec.arm_joints) and len(dry[-1].points) > 0
    with AnyReader([bag]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        types = {c.topic: c.msgtype for c in reader.connections}
    assert counts["/joint_states"] > 5 and types["/joint_states"] == "sensor_msgs/msg/JointState"
    assert counts["/stereo/left/image_rect"] > 0 and types["/tf"] == "tf2_msgs/msg/TFMessage"
