"""The simulated robot: to everything above it, a real arm with ros2_control and a stereo camera driver.

``python -m dexsim_sim.nodes.sim_node --ros-args -p robot:=wx250s -p task:=grasp``

Publishes (stamps from the sim clock, which starts at 0 and never jumps back):
``/clock``; ``/joint_states`` (arm + finger joints); ``/tf`` (every movable URDF joint, and
``world -> object_<name>`` for each scene object); ``/tf_static`` (``world -> base_link``, the fixed
URDF joints, ``world -> stereo_left_link -> stereo_left_optical_frame``, ``stereo_left_link ->
stereo_right_link -> stereo_right_optical_frame``; transient local); ``/robot_description``
(transient local); ``/stereo/{left,right}/image_rect`` (rgb8), ``/stereo/{left,right}/camera_info``,
``/stereo/depth`` (32FC1 m, left optical frame), all sensor-data QoS, rendered at ``camera_hz`` of
sim time.

Serves ``<prefix>/arm_controller/follow_joint_trajectory`` (control_msgs/FollowJointTrajectory),
``<prefix>/gripper_controller/gripper_cmd`` (control_msgs/GripperCommand) per arm (prefix "" or
"/left", "/right") and ``/dexsim/reset`` (dexsim_msgs/ResetEpisode). A goal that fails validation is
accepted and immediately aborted with the FollowJointTrajectory ``error_code``/``error_string``
(a ROS 2 goal rejection cannot carry a result). ``max_effort`` of gripper goals is validated but
the sim applies the URDF effort limit.

Threads: the simulation thread owns the world (physics, rendering, publishing); ROS callbacks only
hand goals/requests to the ROS-free controllers under a lock and wait on a condition that the
simulation thread signals every control period.
"""
from __future__ import annotations

import math
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p
import rclpy
from control_msgs.action import FollowJointTrajectory, GripperCommand
from dexsim_msgs.msg import EpisodeInfo
from dexsim_msgs.srv import ResetEpisode
from rcl_interfaces.msg import IntegerRange, ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from ..control.gripper_controller import GripperController, GripperControllerConfig, GripperGoalError
from ..control.trajectory_controller import (SUCCESSFUL, GoalRejected, GoalState, JointTrajectoryController,
                                             TrajectoryControllerConfig)
from ..env import TASKS, DexSimEnv
from ..robots.kinematics import MOVABLE, UrdfJoint, parse_urdf_joints
from ..robots.registry import get_robot, gripper_joint_positions
from ..robots.transforms import axis_angle_to_matrix, make_transform, pose_to_matrix
from ..ros import conversions as cv
from ..world.camera import LINK_TO_OPTICAL, RENDERERS
from ..world.scene import Scene, SceneError

NODE_NAME = "dexsim_sim"
WORLD_FRAME = "world"
BASE_FRAME = "base_link"
OBJECT_FRAME_PREFIX = "object_"
CAMERA_PREFIX = "stereo"
EPISODE_TOPIC = "/dexsim/episode"   # dexsim_msgs/EpisodeInfo: the task's success check, latest kept
EPISODE_HZ = 10.0              # its rate, Hz of sim time
FEEDBACK_HZ = 10.0             # action feedback rate, Hz of sim time
WAIT_SLICE_S = 0.05            # s wall: longest a waiting callback sleeps before re-checking cancel/shutdown
RESET_TIMEOUT_S = 60.0         # s wall a reset request waits for the simulation thread
MAX_LAG_S = 0.5                # s wall behind schedule before real-time pacing gives up catching up
TF_DEPTH = 100                 # tf2's dynamic broadcaster depth
STATE_DEPTH = 10
EXIT_CONFIG_ERROR = 2


class SimConfigError(ValueError):
    """A bad sim node parameter (names the parameter and the value)."""


@dataclass(frozen=True)
class SimNodeConfig:
    robot: str = "wx250s"
    task: str = "grasp"
    scene_file: str = ""               # '' = the task's default scene for the robot
    physics_hz: float = 240.0
    control_hz: float = 100.0
    joint_state_hz: float = 100.0
    camera_hz: float = 10.0
    image_width: int = 640
    image_height: int = 512
    renderer: str = "auto"
    real_time_factor: float = 1.0      # 0 = as fast as possible
    publish_images: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            get_robot(self.robot)
        except KeyError as exc:
            raise SimConfigError(f"robot: {exc}") from None
        if self.task not in TASKS:
            raise SimConfigError(f"task: unknown {self.task!r} (valid: {sorted(TASKS)})")
        if self.robot not in TASKS[self.task].robots:
            raise SimConfigError(f"task: {self.task!r} supports robots {list(TASKS[self.task].robots)}, "
                                 f"got robot {self.robot!r}")
        if self.scene_file and not Path(self.scene_file).is_file():
            raise SimConfigError(f"scene_file: no such file {self.scene_file!r}")
        for key in ("physics_hz", "control_hz", "joint_state_hz", "camera_hz"):
            v = getattr(self, key)
            if not (math.isfinite(v) and v > 0):
                raise SimConfigError(f"{key}: must be a positive rate (Hz), got {v!r}")
        if self.control_hz > self.physics_hz:
            raise SimConfigError(f"control_hz: must not exceed physics_hz ({self.physics_hz}), got {self.control_hz}")
        for key in ("image_width", "image_height"):
            if getattr(self, key) <= 0:
                raise SimConfigError(f"{key}: must be a positive number of pixels, got {getattr(self, key)!r}")
        if self.renderer not in RENDERERS:
            raise SimConfigError(f"renderer: unknown {self.renderer!r} (valid: {RENDERERS})")
        if not (math.isfinite(self.real_time_factor) and self.real_time_factor >= 0):
            raise SimConfigError(f"real_time_factor: must be >= 0 (0 = as fast as possible), "
                                 f"got {self.real_time_factor!r}")
        if self.seed < 0:
            raise SimConfigError(f"seed: must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class JointReadout:
    names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray
    efforts: np.ndarray


def _joint_transform(joint: UrdfJoint, q: float) -> np.ndarray:
    """Parent link -> child link of a URDF joint at position ``q`` (rad or m)."""
    if joint.kind == "prismatic":
        return joint.origin @ make_transform(None, joint.axis * q)
    if joint.kind in MOVABLE:
        return joint.origin @ make_transform(axis_angle_to_matrix(joint.axis, q))
    return joint.origin


class Simulation:
    """The ROS-free part of the sim node: the env (world + task), one trajectory and one gripper
    controller per arm, the sim clock. Only the simulation thread calls :meth:`step`, :meth:`render`
    and :meth:`reset`; controller calls from other threads go through the node's lock."""

    def __init__(self, config: SimNodeConfig) -> None:
        self.config = config
        # env.step is not used (the node steps physics itself), so its control_hz only has to be valid.
        self.env = DexSimEnv(task=config.task, robot=config.robot, scene=config.scene_file or None,
                             physics_hz=config.physics_hz, control_hz=config.physics_hz,
                             image_size=(config.image_height, config.image_width),
                             render_images=config.publish_images, renderer=config.renderer)
        self.spec = self.env.spec_robot
        self.urdf_joints = parse_urdf_joints(self.spec.urdf)
        self.urdf_text = Path(self.spec.urdf).read_text()
        self.arm_controllers = {
            arm.name: JointTrajectoryController(TrajectoryControllerConfig.from_robot(self.spec, arm.name))
            for arm in self.spec.arms}
        self.gripper_controllers = {arm.name: GripperController(GripperControllerConfig.from_robot(self.spec))
                                    for arm in self.spec.arms}
        self.joint_names = self.spec.arm_joints + self.spec.gripper_joints
        self._arm_cols = {arm.name: [self.spec.arm_joints.index(j) for j in arm.joints] for arm in self.spec.arms}
        self.time = 0.0                  # s, sim clock
        self._ticks = 0
        self._physics_steps = 0
        self._arm_cmd = np.zeros(len(self.spec.arm_joints))
        self._grip_cmd = np.zeros(len(self.spec.gripper_joints))
        self.episode_seed = int(config.seed)
        self.episode_start_tick = 0
        self.reset(config.seed)

    @property
    def world(self):
        return self.env.world

    def reset(self, seed: int, scene_file: str = "", scene=None) -> dict:
        """New episode from ``seed`` (and a scene file or a validated Scene); active goals are aborted.
        Returns task info."""
        scene = scene if scene is not None else (scene_file or None)
        options = {"scene": scene} if scene is not None else None
        self.env.reset(seed=int(seed), options=options)
        self.episode_seed, self.episode_start_tick = int(seed), self._ticks
        state = self.read_joints()
        for arm in self.spec.arms:
            q = state.positions[self._arm_cols[arm.name]]
            self.arm_controllers[arm.name].reset(q, now=self.time, reason="episode reset")
        gaps = self.world.gripper_openings()
        for i, arm in enumerate(self.spec.arms):
            self.gripper_controllers[arm.name].reset(float(gaps[i]), now=self.time, reason="episode reset")
        return self.env.task.evaluate()

    def read_joints(self) -> JointReadout:
        """Positions, velocities and applied efforts of the arm then finger joints."""
        world = self.world
        indices = world.robot.arm_indices + world.robot.gripper_indices
        states = p.getJointStates(world.robot.body, indices, physicsClientId=world.client)
        return JointReadout(self.joint_names, np.array([s[0] for s in states]), np.array([s[1] for s in states]),
                            np.array([s[3] for s in states]))

    def update_controllers(self) -> None:
        """Controllers read the measured state and set the next targets (call under the node lock)."""
        state = self.read_joints()
        n_arm = len(self.spec.arm_joints)
        grip_q, grip_qd, grip_eff = (state.positions[n_arm:], state.velocities[n_arm:], state.efforts[n_arm:])
        per_arm = len(self.spec.gripper_joints) // len(self.spec.arms)
        grip_cmd = []
        for i, arm in enumerate(self.spec.arms):
            cols = self._arm_cols[arm.name]
            self._arm_cmd[cols] = self.arm_controllers[arm.name].update(self.time, state.positions[cols],
                                                                        state.velocities[cols])
            sl = slice(i * per_arm, (i + 1) * per_arm)
            signs = np.sign(grip_q[sl]) + (grip_q[sl] == 0)   # gap = sum |finger|
            gap = float(np.abs(grip_q[sl]).sum())
            rate = float((signs * grip_qd[sl]).sum())
            effort = float(np.abs(grip_eff[sl]).mean())
            target = self.gripper_controllers[arm.name].update(self.time, gap, rate, effort)
            values = gripper_joint_positions(self.spec, target, arm.name)
            grip_cmd += [values[j] for j in arm.gripper_joints]
        self._grip_cmd = np.asarray(grip_cmd)

    def step(self) -> float:
        """Send the targets and run physics to the next control tick; returns the new sim time (not
        yet published to :attr:`time`: the node commits it under its lock)."""
        self.world.command(self._arm_cmd, self._grip_cmd)
        self._ticks += 1
        target = int(round(self._ticks * self.config.physics_hz / self.config.control_hz))
        self.world.step(target - self._physics_steps)
        self._physics_steps = target
        self.env.task.after_step()
        return target / self.config.physics_hz

    def render(self) -> dict[str, np.ndarray]:
        return self.world.render()

    def episode_status(self) -> dict:
        """The task's success check now (``evaluate()``), with the episode's seed and step count."""
        info = dict(self.env.task.evaluate())
        info["seed"] = self.episode_seed
        info["num_steps"] = self._ticks - self.episode_start_tick
        return info

    # ------------------------------------------------------------ frames
    def moving_transforms(self, state: JointReadout) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, 4x4) of every movable URDF joint and of every object in the world frame."""
        values = dict(zip(state.names, state.positions))
        out = [(j.parent, j.child, _joint_transform(j, values.get(name, 0.0)))
               for name, j in self.urdf_joints.items() if j.kind in MOVABLE]
        for name in self.world.objects:
            out.append((WORLD_FRAME, OBJECT_FRAME_PREFIX + name, pose_to_matrix(self.world.object_pose(name))))
        return out

    def static_transforms(self) -> list[tuple[str, str, np.ndarray]]:
        """world -> base_link, fixed URDF joints, and the stereo rig's link and optical frames (REP-103)."""
        rig = self.world.rig
        optical = make_transform(LINK_TO_OPTICAL)
        right_of_left = make_transform(None, (0.0, -rig.baseline, 0.0))   # optical +x = link -y
        out = [(WORLD_FRAME, BASE_FRAME, self.world.base_matrix())]
        out += [(j.parent, j.child, j.origin) for j in self.urdf_joints.values() if j.kind not in MOVABLE]
        out += [(WORLD_FRAME, f"{CAMERA_PREFIX}_left_link", pose_to_matrix(np.asarray(rig.pose, float))),
                (f"{CAMERA_PREFIX}_left_link", f"{CAMERA_PREFIX}_left_optical_frame", optical),
                (f"{CAMERA_PREFIX}_left_link", f"{CAMERA_PREFIX}_right_link", right_of_left),
                (f"{CAMERA_PREFIX}_right_link", f"{CAMERA_PREFIX}_right_optical_frame", optical)]
        return out

    def close(self) -> None:
        self.env.close()


@dataclass
class _ResetRequest:
    seed: int
    scene_file: str
    scene: object = None              # a validated world.scene.Scene (from a SceneDescription)
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    message: str = ""
    info: dict = field(default_factory=dict)


def _descriptor(text: str, integer: tuple[int, int] | None = None) -> ParameterDescriptor:
    """Read-only parameter with a description (and an integer range)."""
    d = ParameterDescriptor(description=text, read_only=True)
    if integer is not None:
        d.integer_range = [IntegerRange(from_value=integer[0], to_value=integer[1], step=1)]
    return d


class SimNode(Node):
    """Thin ROS wrapper over :class:`Simulation` (see the module docstring for the interface)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._resets: queue.Queue[_ResetRequest] = queue.Queue()
        self._sim_time = 0.0
        self._thread: threading.Thread | None = None
        self._servers: list[ActionServer] = []
        self.sim: Simulation | None = None
        self.config = self._read_parameters()
        self.sim = Simulation(self.config)
        group = ReentrantCallbackGroup()

        state_qos = QoSProfile(depth=STATE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._clock_pub = self.create_publisher(Clock, "/clock", state_qos)
        self._joint_pub = self.create_publisher(JointState, "/joint_states", state_qos)
        tf_qos = QoSProfile(depth=TF_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self._tf_pub = self.create_publisher(TFMessage, "/tf", tf_qos)
        self._tf_static_pub = self.create_publisher(TFMessage, "/tf_static", latched)
        self._description_pub = self.create_publisher(String, "/robot_description", latched)
        self._image_pubs = {side: self.create_publisher(Image, f"/{CAMERA_PREFIX}/{side}/image_rect",
                                                        qos_profile_sensor_data) for side in ("left", "right")}
        self._info_pubs = {side: self.create_publisher(CameraInfo, f"/{CAMERA_PREFIX}/{side}/camera_info",
                                                       qos_profile_sensor_data) for side in ("left", "right")}
        self._depth_pub = self.create_publisher(Image, f"/{CAMERA_PREFIX}/depth", qos_profile_sensor_data)
        # The task's success check, for closed-loop evaluation over ROS (reliable, latest kept).
        self._episode_pub = self.create_publisher(EpisodeInfo, EPISODE_TOPIC, state_qos)

        for arm in self.sim.spec.arms:
            self._servers.append(ActionServer(
                self, FollowJointTrajectory, f"{arm.controller_prefix}/arm_controller/follow_joint_trajectory",
                execute_callback=lambda handle, a=arm.name: self._execute_trajectory(a, handle),
                goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
                callback_group=group))
            self._servers.append(ActionServer(
                self, GripperCommand, f"{arm.controller_prefix}/gripper_controller/gripper_cmd",
                execute_callback=lambda handle, a=arm.name: self._execute_gripper(a, handle),
                goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
                callback_group=group))
        self._reset_srv = self.create_service(ResetEpisode, "/dexsim/reset", self._on_reset, callback_group=group)

        self._description_pub.publish(String(data=self.sim.urdf_text))
        self._publish_static()
        self._thread = threading.Thread(target=self._loop, name="dexsim_sim_loop", daemon=True)
        self._thread.start()
        self.get_logger().info(f"simulating {self.config.robot} / {self.config.task} "
                               f"(renderer {self.sim.world.renderer}, real_time_factor {self.config.real_time_factor})")

    # ------------------------------------------------------------ parameters
    def _read_parameters(self) -> SimNodeConfig:
        d = SimNodeConfig()
        specs = {
            "robot": (d.robot, _descriptor("robot name in the registry: sr3 | aubo_i5 | wx250s | wx250s_bimanual")),
            "task": (d.task, _descriptor(f"task: {' | '.join(sorted(TASKS))}")),
            "scene_file": (d.scene_file, _descriptor("scene file (YAML/JSON); '' = the task's default scene")),
            "physics_hz": (d.physics_hz, _descriptor("physics rate, Hz of sim time (> 0)")),
            "control_hz": (d.control_hz, _descriptor("controller update rate, Hz of sim time")),
            "joint_state_hz": (d.joint_state_hz, _descriptor("/joint_states and /tf rate, Hz of sim time")),
            "camera_hz": (d.camera_hz, _descriptor("stereo rendering rate, Hz of sim time")),
            "image_width": (d.image_width, _descriptor("image width, pixels", integer=(16, 4096))),
            "image_height": (d.image_height, _descriptor("image height, pixels", integer=(16, 4096))),
            "renderer": (d.renderer, _descriptor("auto (EGL when it loads, else tiny) | egl | tiny")),
            "real_time_factor": (d.real_time_factor, _descriptor("sim s per wall s; 0 = as fast as possible")),
            "publish_images": (d.publish_images, _descriptor("render and publish the stereo topics")),
            "seed": (d.seed, _descriptor("seed of the first episode", integer=(0, 2 ** 31 - 1))),
        }
        values = {}
        for name, (default, descriptor) in specs.items():
            if isinstance(default, float):   # accept `-p real_time_factor:=0` (an integer on the command line)
                descriptor.dynamic_typing = True
            value = self.declare_parameter(name, default, descriptor).value
            if type(value) is not type(default) and not (isinstance(default, float) and isinstance(value, int)
                                                         and not isinstance(value, bool)):
                raise SimConfigError(f"{name}: expected a {type(default).__name__}, got {value!r}")
            values[name] = type(default)(value)
        return SimNodeConfig(**values)

    # ---------------------------------------------------------- simulation
    def _loop(self) -> None:
        """The simulation thread: controllers, physics, publishing, pacing, resets."""
        cfg = self.config
        js_period, cam_period = 1.0 / cfg.joint_state_hz, 1.0 / cfg.camera_hz
        next_js = next_cam = next_episode = 0.0
        anchor_wall, anchor_sim = time.monotonic(), self.sim.time
        try:
            while not self._stopping.is_set():
                self._serve_resets()
                with self._cond:
                    self.sim.update_controllers()
                new_time = self.sim.step()
                with self._cond:
                    self.sim.time = self._sim_time = new_time
                    self._cond.notify_all()
                stamp = cv.time_msg(new_time)
                self._clock_pub.publish(Clock(clock=stamp))
                if new_time >= next_js - 1e-9:
                    next_js += js_period
                    self._publish_state(stamp)
                if new_time >= next_episode - 1e-9:
                    next_episode += 1.0 / EPISODE_HZ
                    self._publish_episode(stamp)
                if cfg.publish_images and new_time >= next_cam - 1e-9:
                    next_cam += cam_period
                    self._publish_images(stamp)
                if cfg.real_time_factor > 0:
                    ahead = anchor_wall + (new_time - anchor_sim) / cfg.real_time_factor - time.monotonic()
                    if ahead > 0:
                        self._stopping.wait(ahead)
                    elif ahead < -MAX_LAG_S:     # too slow for real time: do not try to catch up
                        anchor_wall, anchor_sim = time.monotonic(), new_time
        except Exception as exc:  # noqa: BLE001  (report the cause, then stop the node)
            if not self._stopping.is_set():
                self.get_logger().fatal(f"simulation thread failed: {exc!r}")
                self._stopping.set()
                raise

    def _serve_resets(self) -> None:
        while True:
            try:
                req = self._resets.get_nowait()
            except queue.Empty:
                return
            try:
                with self._cond:
                    req.info = self.sim.reset(req.seed, req.scene_file, req.scene)
                req.ok, req.message = True, f"episode reset with seed {req.seed}"
                self._publish_static()
            except (ValueError, OSError, KeyError) as exc:   # bad scene file / robot mismatch: report, keep running
                req.ok, req.message = False, f"reset failed: {exc}"
            req.done.set()

    def _publish_state(self, stamp) -> None:
        state = self.sim.read_joints()
        self._joint_pub.publish(cv.joint_state_msg(state.names, state.positions, state.velocities, state.efforts,
                                                   stamp))
        self._tf_pub.publish(cv.tf_message(cv.transform_msg(parent, child, tf, stamp)
                                           for parent, child, tf in self.sim.moving_transforms(state)))

    def _publish_episode(self, stamp) -> None:
        status = self.sim.episode_status()
        msg = EpisodeInfo(robot=self.config.robot, task=self.config.task, seed=int(status["seed"]),
                          success=bool(status.get("success", False)), num_steps=int(status["num_steps"]))
        msg.header.stamp = stamp
        msg.header.frame_id = "world"
        self._episode_pub.publish(msg)

    def _publish_static(self) -> None:
        stamp = cv.time_msg(self.sim.time)
        self._tf_static_pub.publish(cv.tf_message(cv.transform_msg(parent, child, tf, stamp)
                                                  for parent, child, tf in self.sim.static_transforms()))

    def _publish_images(self, stamp) -> None:
        images = self.sim.render()
        rig = self.sim.world.rig
        for side in ("left", "right"):
            info = rig.camera_info(side)
            self._image_pubs[side].publish(cv.image_to_msg(images[f"{side}_rgb"], "rgb8", stamp, info["frame_id"]))
            self._info_pubs[side].publish(cv.camera_info_msg(info, stamp))
        self._depth_pub.publish(cv.image_to_msg(images["depth"], "32FC1", stamp, rig.camera_info("left")["frame_id"]))

    # -------------------------------------------------------------- actions
    def _wait_tick(self, until: float, done) -> None:
        """Wait (holding the lock) until sim time reaches ``until``, ``done()`` holds, or a slice passes."""
        self._cond.wait_for(lambda: self._sim_time >= until or done() or self._stopping.is_set(), WAIT_SLICE_S)

    def _execute_trajectory(self, arm: str, handle):
        ctrl = self.sim.arm_controllers[arm]
        goal = cv.follow_joint_trajectory_goal(handle.request)
        with self._cond:
            now = self._sim_time
            try:
                goal_id = ctrl.start(ctrl.validate(goal, now), now)
            except GoalRejected as exc:
                self.get_logger().warning(f"FollowJointTrajectory goal rejected ({exc.error_code}): {exc}")
                handle.abort()
                return FollowJointTrajectory.Result(error_code=exc.error_code, error_string=str(exc))
        next_feedback = now
        while True:
            with self._cond:
                self._wait_tick(next_feedback, lambda: ctrl.status(goal_id).done)
                status = ctrl.cancel(goal_id) if handle.is_cancel_requested else ctrl.status(goal_id)
                now = self._sim_time
            if handle.is_cancel_requested:
                handle.canceled()
                return FollowJointTrajectory.Result(error_code=SUCCESSFUL, error_string=status.error_string)
            if status.done or self._stopping.is_set():
                break
            if now >= next_feedback:
                next_feedback = now + 1.0 / FEEDBACK_HZ
                handle.publish_feedback(self._trajectory_feedback(ctrl, status))
        with self._cond:
            ctrl.forget(goal_id)
        if status.state is GoalState.SUCCEEDED:
            handle.succeed()
            return FollowJointTrajectory.Result(error_code=SUCCESSFUL, error_string="")
        message = status.error_string or "the sim node is shutting down"
        handle.abort()
        return FollowJointTrajectory.Result(error_code=status.error_code, error_string=message)

    @staticmethod
    def _trajectory_feedback(ctrl, status):
        fb = FollowJointTrajectory.Feedback(joint_names=list(ctrl.joints))
        fb.header.stamp = cv.time_msg(status.time)
        fb.desired = cv.trajectory_point_msg(status.desired.positions, status.desired.velocities,
                                             status.desired.accelerations)
        fb.actual = cv.trajectory_point_msg(status.actual_positions, status.actual_velocities)
        fb.error = cv.trajectory_point_msg(status.position_error, status.velocity_error)
        return fb

    def _execute_gripper(self, arm: str, handle):
        ctrl = self.sim.gripper_controllers[arm]
        command = handle.request.command
        with self._cond:
            try:
                goal_id = ctrl.start(command.position, command.max_effort, self._sim_time)
            except GripperGoalError as exc:
                self.get_logger().warning(f"GripperCommand goal rejected: {exc}")
                handle.abort()
                return GripperCommand.Result(position=ctrl.target, reached_goal=False, stalled=False)
            next_feedback = self._sim_time
        while True:
            with self._cond:
                self._wait_tick(next_feedback, lambda: ctrl.status(goal_id).done)
                status = ctrl.cancel(goal_id) if handle.is_cancel_requested else ctrl.status(goal_id)
                now = self._sim_time
            fields = dict(position=status.position, effort=status.effort, stalled=status.stalled,
                          reached_goal=status.reached_goal)
            if handle.is_cancel_requested:
                handle.canceled()
                return GripperCommand.Result(**fields)
            if status.done or self._stopping.is_set():
                break
            if now >= next_feedback:
                next_feedback = now + 1.0 / FEEDBACK_HZ
                handle.publish_feedback(GripperCommand.Feedback(**fields))
        with self._cond:
            ctrl.forget(goal_id)
        if status.state is GoalState.SUCCEEDED:
            handle.succeed()
        else:
            self.get_logger().warning(f"GripperCommand goal aborted: {status.message or 'node shutting down'}")
            handle.abort()
        return GripperCommand.Result(**fields)

    # -------------------------------------------------------------- reset
    def _on_reset(self, request, response):
        response.info = EpisodeInfo(robot=self.config.robot, task=self.config.task, seed=request.seed)
        scene = None
        if request.scene.objects:
            if request.scene_file:
                response.success, response.message = False, "give either scene_file or scene, not both"
                return response
            if request.scene.robot and request.scene.robot != self.config.robot:
                response.success = False
                response.message = f"scene.robot: this sim drives {self.config.robot!r}, got {request.scene.robot!r}"
                return response
            try:
                scene = Scene.from_dict(cv.scene_dict_from_msg(request.scene, self.sim.world.scene.to_dict()))
            except SceneError as exc:
                response.success, response.message = False, f"scene: {exc}"
                return response
        req = _ResetRequest(int(request.seed), request.scene_file, scene)
        self._resets.put(req)
        if not req.done.wait(RESET_TIMEOUT_S):
            response.success, response.message = False, f"reset not done within {RESET_TIMEOUT_S} s"
            return response
        response.success, response.message = req.ok, req.message
        response.info.header.stamp = cv.time_msg(self._sim_time)
        response.info.success = bool(req.info.get("success", False))
        return response

    # ------------------------------------------------------------ shutdown
    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` ran or the simulation thread failed."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Stop the simulation thread (waiting callbacks then return) and close the world."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self.sim is not None:
            self.sim.close()

    def destroy_node(self) -> None:
        if not self.stopped or (self._thread is not None and self._thread.is_alive()):
            self.stop()
        for server in self._servers:
            server.destroy()
        super().destroy_node()


def main(args=None) -> int:
    """Run the sim node until SIGINT/SIGTERM; exit 0 (2 on a bad parameter)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    executor = MultiThreadedExecutor(num_threads=4)
    node = None
    code = 0
    try:
        node = SimNode()
        executor.add_node(node)
        while not stop.is_set() and not node.stopped:
            executor.spin_once(timeout_sec=WAIT_SLICE_S * 4)
        if node.stopped and not stop.is_set():
            code = 1          # the simulation thread failed (logged)
    except (SimConfigError, ParameterException) as exc:
        rclpy.logging.get_logger(NODE_NAME).error(f"bad parameter: {exc}")
        code = EXIT_CONFIG_ERROR
    finally:
        if node is not None:
            node.stop()
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
