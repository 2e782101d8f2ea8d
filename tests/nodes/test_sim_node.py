"""The sim node as a separate process over real DDS: topics, frames, controllers' actions, reset.

One node process serves the whole module (small images, as fast as possible, tiny renderer).
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from control_msgs.action import FollowJointTrajectory, GripperCommand
from control_msgs.msg import GripperCommand as GripperCommandMsg
from rclpy.action import ActionClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from dexsim_msgs.msg import EpisodeInfo
from dexsim_msgs.srv import ResetEpisode
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.ros import conversions as cv

pytestmark = pytest.mark.ros
ROBOT = "wx250s"
SPEC = get_robot(ROBOT)
WIDTH, HEIGHT = 160, 128
BASELINE = 0.05            # m, the default scene's stereo baseline
TARGET_TOL = 0.03          # rad, joint_states vs trajectory target after success
R = FollowJointTrajectory.Result


class SimUnderTest:
    """The harness, the node process, action/service clients and the latest message per topic."""

    def __init__(self, harness, proc) -> None:
        self.ros, self.proc, node = harness, proc, harness.node
        self.latest: dict[str, object] = {}
        self.clocks: list[float] = []
        self._lock = threading.Lock()
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        subs = [(JointState, "/joint_states", 10), (TFMessage, "/tf_static", latched), (String, "/robot_description", latched),
                (Image, "/stereo/left/image_rect", qos_profile_sensor_data),
                (Image, "/stereo/right/image_rect", qos_profile_sensor_data),
                (Image, "/stereo/depth", qos_profile_sensor_data),
                (CameraInfo, "/stereo/left/camera_info", qos_profile_sensor_data),
                (CameraInfo, "/stereo/right/camera_info", qos_profile_sensor_data), (TFMessage, "/tf", 10),
                (EpisodeInfo, "/dexsim/episode", 10)]
        for msg_type, topic, qos in subs:
            node.create_subscription(msg_type, topic, lambda m, t=topic: self._store(t, m), qos)
        node.create_subscription(Clock, "/clock", lambda m: self.clocks.append(cv.to_seconds(m.clock)), 10)
        self.arm = ActionClient(node, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory")
        self.gripper = ActionClient(node, GripperCommand, "/gripper_controller/gripper_cmd")
        self.finger = ActionClient(node, FollowJointTrajectory, "/gripper_controller/follow_joint_trajectory")
        self.reset = node.create_client(ResetEpisode, "/dexsim/reset")

    def _store(self, topic: str, msg) -> None:
        with self._lock:
            self.latest[topic] = msg

    def get(self, topic: str, timeout: float = 20.0):
        assert self.ros.wait_for(lambda: topic in self.latest, timeout), f"no {topic}: {self.ros.peer_log(self.proc)}"
        return self.latest[topic]

    def arm_q(self) -> np.ndarray:
        js = self.get("/joint_states")
        return np.array(js.position[:len(SPEC.arm_joints)])

    def sim_time(self) -> float:
        assert self.ros.wait_for(lambda: bool(self.clocks), 20)
        return self.clocks[-1]

    def wait_sim(self, seconds: float) -> None:
        start = self.sim_time()
        assert self.ros.wait_for(lambda: self.clocks[-1] >= start + seconds, 30)

    def send(self, client, goal, feedback=None):
        handle = self.ros.wait_future(client.send_goal_async(goal, feedback_callback=feedback), 20)
        assert handle.accepted
        return handle

    def run(self, client, goal, timeout: float = 40.0):
        handle = self.send(client, goal)
        return self.ros.wait_future(handle.get_result_async(), timeout)


@pytest.fixture(scope="module")
def sim(request):
    conftest = request.config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[1] / "conftest.py"))
    harness = conftest.RosHarness("test_sim_node_client")
    try:
        proc = harness.spawn([sys.executable, "-m", "dexsim_sim.nodes.sim_node", "--ros-args", "-p", f"robot:={ROBOT}",
                              "-p", f"image_width:={WIDTH}", "-p", f"image_height:={HEIGHT}", "-p", "real_time_factor:=0",
                              "-p", "renderer:=tiny", "-p", "seed:=1"], "sim_node")
        under_test = SimUnderTest(harness, proc)
        assert under_test.arm.wait_for_server(timeout_sec=60), harness.peer_log(proc)
        assert under_test.gripper.wait_for_server(timeout_sec=20), harness.peer_log(proc)
        assert under_test.reset.wait_for_service(timeout_sec=20), harness.peer_log(proc)
        yield under_test
        assert proc.poll() is None, f"sim node died: {harness.peer_log(proc)}"
    finally:
        harness.close()
    assert proc.returncode == 0, f"sim node exit code {proc.returncode}: {harness.peer_log(proc)}"


def _trajectory_goal(names, times, positions, velocities=None, **kw) -> FollowJointTrajectory.Goal:
    return FollowJointTrajectory.Goal(trajectory=cv.joint_trajectory_msg(names, times, positions, velocities), **kw)


def _gripper(position: float) -> GripperCommandMsg:
    return GripperCommandMsg(position=position, max_effort=5.0)


def test_topics_types_and_frames(sim):
    topics = dict(sim.ros.node.get_topic_names_and_types())
    expected = {"/clock": "rosgraph_msgs/msg/Clock", "/joint_states": "sensor_msgs/msg/JointState",
                "/tf": "tf2_msgs/msg/TFMessage", "/tf_static": "tf2_msgs/msg/TFMessage",
                "/robot_description": "std_msgs/msg/String", "/stereo/left/image_rect": "sensor_msgs/msg/Image",
                "/stereo/right/image_rect": "sensor_msgs/msg/Image", "/stereo/depth": "sensor_msgs/msg/Image",
                "/stereo/left/camera_info": "sensor_msgs/msg/CameraInfo",
                "/stereo/right/camera_info": "sensor_msgs/msg/CameraInfo"}
    for topic, type_name in expected.items():
        assert topics.get(topic) == [type_name], f"{topic}: {topics.get(topic)}"

    js = sim.get("/joint_states")
    assert tuple(js.name) == SPEC.arm_joints + SPEC.gripper_joints
    assert len(js.position) == len(js.velocity) == len(js.name)
    first = sim.sim_time()
    sim.wait_sim(0.2)
    assert sim.clocks[-1] > first

    left, right = sim.get("/stereo/left/camera_info"), sim.get("/stereo/right/camera_info")
    assert (left.width, left.height) == (WIDTH, HEIGHT)
    assert left.header.frame_id == "stereo_left_optical_frame" and right.header.frame_id == "stereo_right_optical_frame"
    fx = left.k[0]
    assert left.k[4] == fx and left.p[0] == fx and left.k[2] == WIDTH / 2 and left.k[5] == HEIGHT / 2
    assert left.p[3] == 0.0 and right.p[3] == pytest.approx(-fx * BASELINE)
    rgb = cv.msg_to_image(sim.get("/stereo/left/image_rect"))
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.std() > 0           # a rendered scene, not a blank
    depth_msg = sim.get("/stereo/depth")
    depth = cv.msg_to_image(depth_msg)
    assert depth_msg.encoding == "32FC1" and depth_msg.header.frame_id == "stereo_left_optical_frame"
    assert depth.shape == (HEIGHT, WIDTH) and 0.05 < float(np.median(depth)) < 5.0
    assert cv.to_seconds(depth_msg.header.stamp) <= sim.clocks[-1]

    static = {(t.header.frame_id, t.child_frame_id) for t in sim.get("/tf_static").transforms}
    for pair in [("world", "base_link"), ("world", "stereo_left_link"), ("stereo_left_link", "stereo_left_optical_frame"),
                 ("stereo_right_link", "stereo_right_optical_frame"), ("gripper_link", "ee_arm_link")]:
        assert pair in static
    dynamic = {(t.header.frame_id, t.child_frame_id) for t in sim.get("/tf").transforms}
    assert ("base_link", "shoulder_link") in dynamic and ("world", "object_target") in dynamic
    assert "<robot" in sim.get("/robot_description").data


def test_trajectory_goal_reaches_target(sim):
    q0 = sim.arm_q()
    target = q0 + np.array([0.3, -0.15, -0.1, 0.2, 0.0, -0.3])
    feedback = []
    # goal joint order differs from the controller's: the controller reorders
    order = [5, 4, 3, 2, 1, 0]
    names = [SPEC.arm_joints[i] for i in order]
    mid = (q0 + target) / 2
    goal = _trajectory_goal(names, [0.75, 1.5], np.stack([mid[order], target[order]]))
    handle = sim.send(sim.arm, goal, feedback=feedback.append)
    result = sim.ros.wait_future(handle.get_result_async(), 40)
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result.result.error_string
    assert result.result.error_code == R.SUCCESSFUL
    assert feedback and list(feedback[-1].feedback.joint_names) == list(SPEC.arm_joints)
    sim.wait_sim(0.1)
    np.testing.assert_allclose(sim.arm_q(), target, atol=TARGET_TOL)


@pytest.mark.parametrize("case, code, match", [
    ("wrong_names", R.INVALID_JOINTS, "unknown joints"),
    ("non_increasing", R.INVALID_GOAL, "strictly increase"),
    ("outside_limits", R.INVALID_GOAL, "outside its limits"),
    ("too_fast", R.INVALID_GOAL, "velocity limit"),
    ("empty", R.INVALID_GOAL, "empty"),
])
def test_bad_goals_rejected_node_stays_up(sim, case, code, match):
    q0 = sim.arm_q()
    names = list(SPEC.arm_joints)
    upper = np.array([SPEC.limits[j].upper for j in names])
    goals = {
        "wrong_names": _trajectory_goal(["nope"] + names[1:], [1.0], q0[None]),
        "non_increasing": _trajectory_goal(names, [1.0, 1.0], np.stack([q0, q0])),
        "outside_limits": _trajectory_goal(names, [2.0], (q0 + np.where(np.arange(6) == 2, upper + 0.5 - q0, 0.0))[None]),
        "too_fast": _trajectory_goal(names, [0.5, 0.6], np.stack([q0, q0 + np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])])),
        "empty": FollowJointTrajectory.Goal(),
    }
    result = sim.run(sim.arm, goals[case])
    assert result.status == GoalStatus.STATUS_ABORTED
    assert result.result.error_code == code and match in result.result.error_string
    assert sim.proc.poll() is None


def test_gripper_goal(sim):
    result = sim.run(sim.gripper, GripperCommand.Goal(command=_gripper(SPEC.gripper_closed + 0.01)))
    assert result.status == GoalStatus.STATUS_SUCCEEDED
    assert result.result.reached_goal or result.result.stalled
    result = sim.run(sim.gripper, GripperCommand.Goal(command=_gripper(SPEC.gripper_open)))
    assert result.status == GoalStatus.STATUS_SUCCEEDED and result.result.reached_goal
    assert result.result.position == pytest.approx(SPEC.gripper_open, abs=0.003)
    # gripper_action_controller semantics: "close fully" (0.0, below the fingers' 3 cm stop) closes
    # to the stop and succeeds stalled; a NaN gap is refused
    closed = sim.run(sim.gripper, GripperCommand.Goal(command=_gripper(0.0)))
    assert closed.status == GoalStatus.STATUS_SUCCEEDED and closed.result.stalled and not closed.result.reached_goal
    assert closed.result.position == pytest.approx(SPEC.gripper_closed, abs=0.004)
    bad = sim.run(sim.gripper, GripperCommand.Goal(command=_gripper(float("nan"))))
    assert bad.status == GoalStatus.STATUS_ABORTED and not bad.result.reached_goal


def test_interbotix_finger_trajectory_gripper(sim):
    """The sim serves the wx250s gripper as Interbotix's driver does: a trajectory controller on
    left_finger (m, half the gap); a goal for any other joint is refused with INVALID_GOAL."""
    def finger_goal(names, value):
        return FollowJointTrajectory.Goal(trajectory=cv.joint_trajectory_msg(names, [0.5], [[value]]))

    opened = sim.run(sim.finger, finger_goal(["left_finger"], SPEC.gripper_open / 2))
    assert opened.status == GoalStatus.STATUS_SUCCEEDED and opened.result.error_code == 0
    js = sim.get("/joint_states")
    finger = js.position[list(js.name).index("left_finger")]
    assert finger == pytest.approx(SPEC.gripper_open / 2, abs=0.002)
    closed = sim.run(sim.finger, finger_goal(["left_finger"], 0.0))          # past the stop: stalls there
    assert closed.status == GoalStatus.STATUS_SUCCEEDED
    wrong = sim.run(sim.finger, finger_goal(["waist"], 0.02))
    assert wrong.status == GoalStatus.STATUS_ABORTED
    assert wrong.result.error_code == -1 and "left_finger" in wrong.result.error_string


def test_cancel_long_goal_holds_position(sim):
    q0 = sim.arm_q()
    target = q0 + np.array([0.8, 0.0, 0.0, 0.0, 0.0, 0.0])
    feedback = []
    handle = sim.send(sim.arm, _trajectory_goal(list(SPEC.arm_joints), [30.0], target[None]), feedback=feedback.append)
    assert sim.ros.wait_for(lambda: len(feedback) >= 3, 30)
    sim.ros.wait_future(handle.cancel_goal_async(), 20)
    result = sim.ros.wait_future(handle.get_result_async(), 20)
    assert result.status == GoalStatus.STATUS_CANCELED
    sim.wait_sim(0.3)
    held = sim.arm_q()
    assert 0.0 < held[0] - q0[0] < 0.4                   # moved a little, far from the target
    sim.wait_sim(1.0)
    np.testing.assert_allclose(sim.arm_q(), held, atol=0.01)


def test_reset_service(sim):
    response = sim.ros.call(sim.reset, ResetEpisode.Request(seed=3), 60)
    assert response.success, response.message
    assert response.info.robot == ROBOT and response.info.task == "grasp" and response.info.seed == 3
    sim.wait_sim(0.2)
    np.testing.assert_allclose(sim.arm_q(), SPEC.home, atol=0.02)
    # the task's success check is published for closed-loop evaluation over ROS
    assert sim.ros.wait_for(lambda: sim.get("/dexsim/episode").seed == 3, 20)
    episode = sim.get("/dexsim/episode")
    assert (episode.robot, episode.task, episode.success) == (ROBOT, "grasp", False)  # nothing lifted yet
    assert episode.num_steps > 0 and episode.header.frame_id == "world"
    bad = sim.ros.call(sim.reset, ResetEpisode.Request(seed=4, scene_file="/nonexistent.yaml"), 60)
    assert not bad.success and "reset failed" in bad.message
    sim.wait_sim(0.1)
    assert sim.proc.poll() is None


def test_reset_with_a_scene_description(sim):
    """/dexsim/reset builds the scene sent as a dexsim_msgs/SceneDescription (e.g. from Real2Sim)."""
    from dexsim_msgs.msg import ObjectSpec, SceneDescription

    from dexsim_sim.tasks.grasp import GraspTask

    scene = SceneDescription(robot=ROBOT)
    probe = ObjectSpec(name="probe_can", category="can", asset_id="can_small", role="target", mass=0.05)
    probe.pose.position.x, probe.pose.orientation.w = 0.05, 1.0
    scene.objects.append(probe)
    response = sim.ros.call(sim.reset, ResetEpisode.Request(seed=5, scene=scene), 60)
    assert response.success, response.message

    def frames() -> set[str]:
        return {t.child_frame_id for t in sim.get("/tf").transforms}

    assert sim.ros.wait_for(lambda: "object_probe_can" in frames(), 20), frames()
    assert not any(f.startswith("object_distractor") for f in frames())     # the old objects are gone

    bad = ObjectSpec(name="x", category="spaceship", asset_id="none")
    bad.pose.orientation.w = 1.0
    reply = sim.ros.call(sim.reset, ResetEpisode.Request(seed=6, scene=SceneDescription(objects=[bad])), 60)
    assert not reply.success and "objects[0].category" in reply.message
    wrong_robot = SceneDescription(robot="sr3", objects=[probe])
    reply = sim.ros.call(sim.reset, ResetEpisode.Request(seed=6, scene=wrong_robot), 60)
    assert not reply.success and "scene.robot" in reply.message
    # back to the task's default scene for any later test; the node stayed up throughout
    back = sim.ros.call(sim.reset, ResetEpisode.Request(seed=0, scene_file=str(GraspTask.scene_path(ROBOT))), 60)
    assert back.success, back.message
    assert sim.proc.poll() is None
