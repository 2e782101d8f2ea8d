"""One execution path: the policy node (a separate process over real DDS, sim time from /clock)
and the in-process PolicyController, fed the same observation stream, produce the same commands.

The test drives the node's clock itself: it publishes one stamped input set (stereo images +
joint states), then advances /clock in small increments until the node's dry-run trajectory for
that set arrives. Its header stamp is the node's ``now`` for that command (the clock does not move
while the node computes: the test only advances it after the answer or a generous wait). The same
checkpoint, images, joints, stamps and ``now`` go through :func:`make_controller` here; positions
and times must agree.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory

from dexsim_msgs.srv import SetPolicyActive
from dexsim_policy.controller import make_controller, policy_observation
from dexsim_policy.runtime import PolicyRuntime
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.ros import conversions as cv

pytestmark = pytest.mark.ros
CALM_STD = 0.01
ROBOT = "wx250s"
SPEC = get_robot(ROBOT)
HOME = np.asarray(SPEC.home)
START_S = 60.0         # s wall for the node process to start
ANSWER_S = 1.0         # s wall to wait for an answer after each clock increment
CLOCK_STEP_S = 0.05    # s of sim time per clock increment
T0 = 10.0              # s sim time of the first input set
STEPS = 5


@pytest.mark.parametrize("trigger", ["input", "timer"])
def test_node_and_in_process_controller_send_the_same_commands(ros, tmp_path, calm_checkpoint, trigger):
    import torch

    torch.set_num_threads(1)
    ckpt = calm_checkpoint(tmp_path / "calm", ROBOT, (32, 40), CALM_STD)
    node = ros.node
    clock_pub = node.create_publisher(Clock, "/clock", 10)
    left = node.create_publisher(Image, "/stereo/left/image_rect", qos_profile_sensor_data)
    right = node.create_publisher(Image, "/stereo/right/image_rect", qos_profile_sensor_data)
    joints = node.create_publisher(JointState, "/joint_states", 10)
    dry: list[JointTrajectory] = []
    node.create_subscription(JointTrajectory, "/dexsim/policy/dry_run_trajectory", dry.append, 10)
    activate = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
    proc = ros.spawn([sys.executable, "-m", "dexsim_policy.nodes.policy_node", "--ros-args", "-p", f"robot:={ROBOT}",
                      "-p", f"checkpoint:={ckpt}", "-p", "use_sim_time:=true", "-p", "dry_run:=true",
                      "-p", "rate_hz:=10.0", "-p", f"trigger:={trigger}"], "policy_node")
    clock = [T0 - 1.0]

    def tick(to: float) -> None:
        clock[0] = to
        clock_pub.publish(Clock(clock=cv.time_msg(to)))

    tick(clock[0])
    assert activate.wait_for_service(timeout_sec=START_S), ros.peer_log(proc)
    assert ros.call(activate, SetPolicyActive.Request(active=True), 30.0).active

    rng = np.random.default_rng(0)
    inputs = []
    for k in range(STEPS):
        stamp = T0 + 0.1 * k
        img_l = rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)
        img_r = rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)
        q = HOME + rng.normal(0.0, 0.02, 6)
        fingers = np.array([0.03, -0.03])
        tick(max(clock[0], stamp))
        msg_stamp = cv.time_msg(stamp)
        left.publish(cv.image_to_msg(img_l, "rgb8", msg_stamp, "stereo_left_optical_frame"))
        right.publish(cv.image_to_msg(img_r, "rgb8", msg_stamp, "stereo_right_optical_frame"))
        joints.publish(cv.joint_state_msg(SPEC.arm_joints + SPEC.gripper_joints, np.concatenate([q, fingers]),
                                          stamp=msg_stamp))
        n = len(dry)
        while not ros.wait_for(lambda: len(dry) > n, ANSWER_S):
            assert clock[0] < stamp + 0.4, f"no command for input set {k}: {ros.peer_log(proc)}"
            tick(clock[0] + CLOCK_STEP_S)
        assert len(dry) == n + 1
        inputs.append((stamp, img_l, img_r, q, float(np.abs(fingers).sum())))

    runtime = PolicyRuntime.load(ckpt)
    controller = make_controller(runtime, SPEC)
    controller.reset()
    for (stamp, img_l, img_r, q, gap), msg in zip(inputs, dry):
        now = cv.to_seconds(msg.header.stamp)
        assert stamp <= now < stamp + 0.4
        result = controller.step(policy_observation(img_l, img_r, q, gap), stamp, now, q)
        names, times, positions, _, _ = cv.joint_trajectory_to_arrays(msg)
        assert tuple(names) == SPEC.arm_joints
        np.testing.assert_allclose(times, result.command.times, atol=1e-6)
        np.testing.assert_allclose(positions, result.command.positions, atol=1e-5)
