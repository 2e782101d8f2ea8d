"""The policy node as a separate process over real DDS: images + joint states in, safe
FollowJointTrajectory / GripperCommand goals out, only while active; watchdog; dry run.

The test side publishes the stereo images and joint states (wall-clock stamps) and hosts the arm
and gripper action servers, recording every goal. Checkpoints are untrained tiny ACT policies whose
action normalizer maps the network output around the robot's home pose ("calm") or scales it by
1e4 rad ("wild": every raw joint target far outside the limits).
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from control_msgs.action import FollowJointTrajectory, GripperCommand
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionServer
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory

from dexsim_msgs.srv import SetPolicyActive
from dexsim_policy.commander import ActionCommander
from dexsim_sim.control.gripper_interface import gripper_interface
from dexsim_sim.robots.joint_names import JointNameMap
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.ros import conversions as cv

pytestmark = pytest.mark.ros
ROBOT = "wx250s"
SPEC = get_robot(ROBOT)
HOME = np.asarray(SPEC.home)
H, W = 32, 40
PUBLISH_HZ = 20.0
CALM_STD = 0.01       # rad per unit of network output
WILD_STD = 1e4        # rad per unit of network output: raw targets far outside every limit
START_S = 60.0        # s allowed for the node process to start (imports torch, loads the checkpoint)
WAIT_S = 20.0


@pytest.fixture
def make_checkpoint(calm_checkpoint):
    return lambda path, action_std: calm_checkpoint(path, ROBOT, (H, W), action_std)


class Peer:
    """Test side: input publishers (on demand), action servers recording goals, diagnostics."""

    def __init__(self, harness, spec=SPEC, driver_names=()) -> None:
        self.ros, node = harness, harness.node
        self.spec = spec
        self.names = JointNameMap(spec.arm_joints + spec.gripper_joints, driver_names)   # as the driver names them
        # per arm (controller prefix: "" or "/left", "/right"); goals/gripper_goals: the first arm's
        self.arm_goals: dict[str, list[tuple[float, FollowJointTrajectory.Goal]]] = {}
        self.arm_gripper_goals: dict[str, list[float]] = {}
        self.dry: list[JointTrajectory] = []
        self.gripper_kinds: list[str] = []      # which interface each gripper goal came through
        self.diagnostics: list[dict[str, str]] = []
        group = ReentrantCallbackGroup()
        self.servers = []
        for arm in spec.arms:   # goals are recorded one at a time, in the order they are executed
            pre = arm.controller_prefix
            goals, grips = self.arm_goals.setdefault(pre, []), self.arm_gripper_goals.setdefault(pre, [])
            self.servers += [
                ActionServer(node, FollowJointTrajectory, f"{pre}/arm_controller/follow_joint_trajectory",
                             execute_callback=lambda h, g=goals: self._execute_arm(h, g),
                             callback_group=MutuallyExclusiveCallbackGroup()),
                ActionServer(node, GripperCommand, f"{pre}/gripper_controller/gripper_cmd",
                             execute_callback=lambda h, g=grips: self._execute_gripper(h, g), callback_group=group),
                # the Interbotix gripper: a trajectory controller on one finger joint (m, half the gap)
                ActionServer(node, FollowJointTrajectory, f"{pre}/gripper_controller/follow_joint_trajectory",
                             execute_callback=lambda h, g=grips, a=arm: self._execute_finger(h, g, a),
                             callback_group=group)]
        first = spec.arms[0].controller_prefix
        self.goals, self.gripper_goals = self.arm_goals[first], self.arm_gripper_goals[first]
        self.left = node.create_publisher(Image, "/stereo/left/image_rect", qos_profile_sensor_data)
        self.right = node.create_publisher(Image, "/stereo/right/image_rect", qos_profile_sensor_data)
        self.joints = node.create_publisher(JointState, "/joint_states", 10)
        node.create_subscription(JointTrajectory, "/dexsim/policy/dry_run_trajectory", self.dry.append, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.set_active = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
        self.publishing = threading.Event()
        self.encoding = "rgb8"            # what the images claim to be
        self.joint_value = None           # overrides every published joint position (e.g. NaN)
        self._stop = threading.Event()
        self._rng = np.random.default_rng(0)
        self._thread = threading.Thread(target=self._publish_loop, daemon=True)
        self._thread.start()

    def _execute_arm(self, handle, goals):
        goals.append((time.monotonic(), handle.request))
        handle.succeed()
        return FollowJointTrajectory.Result()

    def _execute_gripper(self, handle, goals):
        goals.append(handle.request.command.position)
        self.gripper_kinds.append("gripper_command")
        handle.succeed()
        return GripperCommand.Result()

    def _execute_finger(self, handle, goals, arm):
        traj = handle.request.trajectory
        finger = gripper_interface(self.spec.name, "follow_joint_trajectory").for_arm(arm.gripper_joints)
        assert list(traj.joint_names) == self.names.to_driver([finger.joint]) and len(traj.points) == 1
        goals.append(finger.gap(traj.points[0].positions[0]))
        self.gripper_kinds.append("follow_joint_trajectory")
        handle.succeed()
        return FollowJointTrajectory.Result()

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith("policy"):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def _publish_loop(self) -> None:
        while not self._stop.wait(1.0 / PUBLISH_HZ):
            if not self.publishing.is_set():
                continue
            stamp = self.ros.node.get_clock().now().to_msg()
            img = self._rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
            left = cv.image_to_msg(img, "rgb8", stamp, "stereo_left_optical_frame")
            right = cv.image_to_msg(img, "rgb8", stamp, "stereo_right_optical_frame")
            left.encoding = right.encoding = self.encoding
            self.left.publish(left)
            self.right.publish(right)
            fingers = [0.03 if i % 2 == 0 else -0.03 for i in range(len(self.spec.gripper_joints))]
            q = np.concatenate([self.spec.home, fingers])
            if self.joint_value is not None:
                q = np.full_like(q, self.joint_value)
            self.joints.publish(cv.joint_state_msg(self.names.to_driver(self.spec.arm_joints + self.spec.gripper_joints),
                                                   q, stamp=stamp))

    def activate(self, active: bool) -> None:
        assert self.set_active.wait_for_service(timeout_sec=START_S)
        response = self.ros.call(self.set_active, SetPolicyActive.Request(active=active), WAIT_S)
        assert response.success and response.active == active

    def last_diag(self) -> dict[str, str]:
        assert self.ros.wait_for(lambda: bool(self.diagnostics), WAIT_S), "no /diagnostics from the policy node"
        return self.diagnostics[-1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for server in self.servers:
            server.destroy()


@pytest.fixture
def peer(ros):
    p = Peer(ros)
    yield p
    p.close()


def spawn_node(ros, checkpoint: Path, *extra: str, robot: str = ROBOT):
    args = [sys.executable, "-m", "dexsim_policy.nodes.policy_node", "--ros-args", "-p", f"robot:={robot}",
            "-p", f"checkpoint:={checkpoint}", "-p", "rate_hz:=10.0", "-p", "max_input_age_s:=0.5"]
    for e in extra:
        args += ["-p", e]
    return ros.spawn(args, "policy_node")


def assert_within_limits(goal: FollowJointTrajectory.Goal, q_start: np.ndarray, spec=SPEC, arm: str = "") -> None:
    names, times, positions, _, _ = cv.joint_trajectory_to_arrays(goal.trajectory)
    assert tuple(names) == (next(a for a in spec.arms if a.name == arm).joints if arm else spec.arm_joints)
    assert len(times) >= 1 and np.all(np.isfinite(positions))
    checker = ActionCommander.for_robot(spec, arm=arm).safety
    counts = checker.check(q_start, times, positions)
    assert not any(counts.values()), counts


def test_inactive_sends_nothing_then_active_sends_safe_goals(ros, peer, tmp_path, make_checkpoint):
    proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD))
    peer.publishing.set()
    assert peer.set_active.wait_for_service(timeout_sec=START_S), ros.peer_log(proc)
    assert ros.wait_for(lambda: len(peer.diagnostics) >= 5, WAIT_S), ros.peer_log(proc)
    assert peer.goals == [] and peer.last_diag()["active"] == "False"

    peer.activate(True)
    assert ros.wait_for(lambda: len(peer.goals) >= 3, WAIT_S), ros.peer_log(proc)
    assert peer.gripper_goals and peer.gripper_goals[0] in (SPEC.gripper_open, SPEC.gripper_closed)
    assert set(peer.gripper_kinds) == {"follow_joint_trajectory"}     # the Interbotix driver's gripper
    _, first = peer.goals[0]
    assert_within_limits(first, HOME)                     # the first chunk starts from the measured pose
    names, times, positions, _, _ = cv.joint_trajectory_to_arrays(first.trajectory)
    # rows are due at stamp + (k + 1) * 0.1 s; those already past when the goal goes out are dropped
    assert 1 <= len(times) <= 5 and np.max(np.abs(positions - HOME)) < 0.5
    assert np.allclose(np.diff(times), 0.1, atol=1e-6) and 0.0 < times[0] <= 0.1 + 1e-6   # the chunk's tail, 10 Hz

    assert ros.wait_for(lambda: int(peer.last_diag().get("goals_sent", 0)) >= 3, WAIT_S)
    diag = peer.last_diag()
    assert diag["active"] == "True" and float(diag["latency_p50_ms"]) > 0 and diag["refused"] == "0"

    peer.activate(False)
    time.sleep(0.3)
    n = len(peer.goals)
    time.sleep(1.0)
    assert len(peer.goals) == n, "goals were sent after deactivation"


def test_stale_inputs_stop_sending(ros, peer, tmp_path, make_checkpoint):
    proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD))
    peer.publishing.set()
    peer.activate(True)
    assert ros.wait_for(lambda: len(peer.goals) >= 2, WAIT_S), ros.peer_log(proc)
    peer.publishing.clear()
    assert ros.wait_for(lambda: peer.last_diag().get("stale") == "True", WAIT_S), ros.peer_log(proc)
    n = len(peer.goals)
    time.sleep(1.0)
    assert len(peer.goals) == n, "goals were sent on stale inputs"
    assert int(peer.last_diag()["stale_events"]) >= 1
    peer.publishing.set()                                   # fresh inputs: it resumes
    assert ros.wait_for(lambda: len(peer.goals) > n, WAIT_S), ros.peer_log(proc)


def test_extreme_model_outputs_never_leave_the_limits(ros, peer, tmp_path, make_checkpoint):
    proc = spawn_node(ros, make_checkpoint(tmp_path / "wild", WILD_STD), "gripper_interface:=gripper_command")
    peer.publishing.set()
    peer.activate(True)
    assert ros.wait_for(lambda: len(peer.goals) >= 3, WAIT_S), ros.peer_log(proc)
    assert ros.wait_for(lambda: bool(peer.gripper_kinds), WAIT_S), ros.peer_log(proc)
    assert set(peer.gripper_kinds) == {"gripper_command"}
    assert ros.wait_for(lambda: int(peer.last_diag().get("commands", 0)) >= 5, WAIT_S), ros.peer_log(proc)
    diag = peer.last_diag()
    assert int(diag["clipped"]) + int(diag["refused"]) >= 5
    assert int(diag["violation_position"]) > 0
    assert_within_limits(peer.goals[0][1], HOME)   # positions, velocities, accelerations, workspace
    lo = np.array([SPEC.limits[j].lower for j in SPEC.arm_joints])
    hi = np.array([SPEC.limits[j].upper for j in SPEC.arm_joints])
    for _, goal in peer.goals:
        _, _, positions, _, _ = cv.joint_trajectory_to_arrays(goal.trajectory)
        assert np.all(np.isfinite(positions)) and np.all(positions >= lo) and np.all(positions <= hi)
    assert all(np.isfinite(g) and SPEC.gripper_closed <= g <= SPEC.gripper_open for g in peer.gripper_goals)


def test_dry_run_publishes_and_sends_no_goal(ros, peer, tmp_path, make_checkpoint):
    proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD), "dry_run:=true")
    peer.publishing.set()
    peer.activate(True)
    assert ros.wait_for(lambda: len(peer.dry) >= 3, WAIT_S), ros.peer_log(proc)
    assert peer.goals == [] and peer.gripper_goals == []
    assert tuple(peer.dry[0].joint_names) == SPEC.arm_joints and 1 <= len(peer.dry[0].points) <= 5
    assert peer.last_diag()["goals_sent"] == "0"


def test_bad_parameter_exits_with_code_2(ros, tmp_path, make_checkpoint):
    proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD), "rate_hz:=-1.0")
    assert proc.wait(timeout=START_S) == 2
    assert "rate_hz" in ros.peer_log(proc)


def test_a_bimanual_policy_drives_both_arms(ros, tmp_path, calm_checkpoint):
    """wx250s_bimanual: one policy node, goals on /left/... and /right/..., each arm's own joints,
    each within that arm's limits from its measured pose."""
    spec = get_robot("wx250s_bimanual")
    peer = Peer(ros, spec)
    try:
        proc = spawn_node(ros, calm_checkpoint(tmp_path / "bi", spec.name, (H, W), CALM_STD), robot=spec.name)
        peer.publishing.set()
        peer.activate(True)
        assert ros.wait_for(lambda: all(len(g) >= 2 for g in peer.arm_goals.values()), WAIT_S), ros.peer_log(proc)
        assert sorted(peer.arm_goals) == sorted(a.controller_prefix for a in spec.arms) and len(peer.arm_goals) == 2
        for arm in spec.arms:
            _, first = peer.arm_goals[arm.controller_prefix][0]
            assert_within_limits(first, np.asarray(spec.home_of(arm)), spec, arm.name)
            assert peer.arm_gripper_goals[arm.controller_prefix], f"no gripper goal for {arm.name}"
    finally:
        peer.close()


def test_driver_joint_names_map_joint_states_and_goals(ros, tmp_path, make_checkpoint):
    """config/<robot>.yaml's driver_joint_names: the node reads the driver's names and sends goals
    in them (the registry's names appear nowhere on the wire)."""
    driver = [f"drv_{j}" for j in SPEC.arm_joints + SPEC.gripper_joints]
    peer = Peer(ros, driver_names=driver)
    try:
        proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD), f"driver_joint_names:=[{','.join(driver)}]")
        peer.publishing.set()
        peer.activate(True)
        assert ros.wait_for(lambda: len(peer.goals) >= 2 and peer.gripper_goals, WAIT_S), ros.peer_log(proc)
        names = list(peer.goals[0][1].trajectory.joint_names)
        assert names == driver[:len(SPEC.arm_joints)]
        assert peer.gripper_kinds[0] == "follow_joint_trajectory"      # on drv_left_finger (checked by the peer)
    finally:
        peer.close()


@pytest.mark.parametrize("fault", ["unknown_encoding", "nan_joints"])
def test_bad_input_messages_are_counted_never_acted_on_and_the_node_recovers(ros, peer, tmp_path, make_checkpoint,
                                                                             fault):
    """Images whose encoding the decoder does not know, or joint states with NaN positions: no goal
    is sent on them, the node counts them (diagnostics) and stays up, and drives again once the
    inputs are good."""
    proc = spawn_node(ros, make_checkpoint(tmp_path / "calm", CALM_STD))
    peer.publishing.set()
    peer.activate(True)
    assert ros.wait_for(lambda: len(peer.goals) >= 2, WAIT_S), ros.peer_log(proc)
    if fault == "unknown_encoding":
        peer.encoding, counter = "yuv422_not_a_real_one", "inference_errors"
    else:
        peer.joint_value, counter = float("nan"), "bad_inputs"
    assert ros.wait_for(lambda: int(peer.last_diag().get(counter, 0)) >= 3, WAIT_S), (peer.last_diag(), ros.peer_log(proc))
    n = len(peer.goals)
    assert ros.wait_for(lambda: int(peer.last_diag().get(counter, 0)) >= 10, WAIT_S)
    assert len(peer.goals) <= n + 1, "goals were sent on bad input"        # one may have been in flight
    assert proc.poll() is None
    peer.encoding, peer.joint_value = "rgb8", None
    assert ros.wait_for(lambda: len(peer.goals) > n + 2, WAIT_S), ros.peer_log(proc)
    assert peer.last_diag()["refused"] == "0"
