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
(a ROS 2 goal rejection cannot carry a result). Gripper goals follow gripper_action_controller: a
gap beyond the fingers' range drives them to their limit and succeeds ``stalled`` there;
``max_effort`` (N, 0 = the URDF's) limits the finger motors' force.

Faults on demand (``fault`` parameter, settable while it runs; dexsim_sim.faults): frozen cameras,
dropped joint states, delayed images, stalled controllers, aborted goals, while ``/clock`` runs on.

Threads: the simulation thread builds and owns the world (physics, rendering, publishing: PyBullet's
EGL context only renders in the thread that created it); ROS callbacks only
hand goals/requests to the ROS-free controllers under a lock and wait on a condition that the
simulation thread signals every control period.
"""
from __future__ import annotations

import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p
from control_msgs.action import FollowJointTrajectory, GripperCommand
from dexsim_msgs.msg import EpisodeInfo
from dexsim_msgs.srv import ResetEpisode
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from ..control.gripper_controller import GripperGoalError
from ..control.gripper_interface import (GRIPPER_COMMAND_ACTION, GRIPPER_TRAJECTORY_ACTION, GripperInterface,
                                         GripperInterfaceError, FOLLOW_JOINT_TRAJECTORY, gripper_interface)
from ..control.trajectory_controller import GOAL_TOLERANCE_VIOLATED, INVALID_GOAL, SUCCESSFUL, GoalRejected, GoalState
from ..env import TASKS
from ..faults import NO_FAULT, DelayLine, FaultError, parse_fault
from ..ros import conversions as cv
from ..ros.node_main import run_node
from ..ros.params import NodeParams, Param, ParamError, declare
from ..world.camera import RENDERERS
from ..simulation import (CAMERA_PREFIX, SimConfigError, SimNodeConfig, Simulation)  # noqa: F401 (re-exported)
from ..world.scene import Scene, SceneError

NODE_NAME = "dexsim_sim"
EPISODE_TOPIC = "/dexsim/episode"   # dexsim_msgs/EpisodeInfo: the task's success check, latest kept
EPISODE_HZ = 10.0              # its rate, Hz of sim time
FEEDBACK_HZ = 10.0             # action feedback rate, Hz of sim time
WAIT_SLICE_S = 0.05            # s wall: longest a waiting callback sleeps before re-checking cancel/shutdown
RESET_TIMEOUT_S = 60.0         # s wall a reset request waits for the simulation thread
MAX_LAG_S = 0.5                # s wall behind schedule before real-time pacing gives up catching up
MAX_SEED = 2 ** 63 - 1         # ROS 2 integer parameters are int64; episode seeds reach ~1e9 + seed * 1e6
TF_DEPTH = 100                 # tf2's dynamic broadcaster depth
STATE_DEPTH = 10


@dataclass
class _ResetRequest:
    seed: int
    scene_file: str
    scene: object = None              # a validated world.scene.Scene (from a SceneDescription)
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    message: str = ""
    info: dict = field(default_factory=dict)


_D = SimNodeConfig()
PARAMS = NodeParams("sim_node", (
    Param("robot", _D.robot, "robot name in the registry: sr3 | aubo_i5 | wx250s | wx250s_bimanual"),
    Param("task", _D.task, "the task", choices=tuple(sorted(TASKS))),
    Param("scene_file", _D.scene_file, "scene file (YAML/JSON); '' = the task's default scene"),
    Param("dr_spec", _D.dr_spec, "DR spec applied at every reset (file or shipped name); '' = none"),
    Param("physics_hz", _D.physics_hz, "physics rate, Hz of sim time", above=0.0),
    Param("control_hz", _D.control_hz, "controller update rate, Hz of sim time", above=0.0),
    Param("task_hz", _D.task_hz, "task bookkeeping rate (success hold counters), Hz of sim time", above=0.0),
    Param("joint_state_hz", _D.joint_state_hz, "/joint_states and /tf rate, Hz of sim time", above=0.0),
    Param("camera_hz", _D.camera_hz, "stereo rendering rate, Hz of sim time", above=0.0),
    Param("image_width", _D.image_width, "image width, pixels", low=16, high=4096),
    Param("image_height", _D.image_height, "image height, pixels", low=16, high=4096),
    Param("renderer", _D.renderer, "auto (EGL when it loads, else tiny) | egl | tiny", choices=RENDERERS),
    Param("real_time_factor", _D.real_time_factor, "sim s per wall s; 0 = as fast as possible", low=0.0),
    Param("publish_images", _D.publish_images, "render and publish the stereo topics"),
    Param("seed", _D.seed, "seed of the first episode (64-bit, as /dexsim/reset)", low=0, high=MAX_SEED),
    Param("fault", "none", "injected fault, the sim clock running on (dexsim_sim.faults): none | freeze_cameras | "
          "drop_joint_states | delay_images:S | stall_controllers | abort_goals", dynamic=True),
))


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
        self._tf_msg = None           # the /tf message, refilled in place at joint_state_hz
        self._fault = NO_FAULT
        self._delayed = DelayLine()   # image messages held back by a delay_images fault
        self.config = self._read_parameters()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # The simulation thread builds the world: PyBullet's EGL context belongs to the thread that
        # created it, and renders from any other thread silently return a stale frame.
        self._built, self._go = threading.Event(), threading.Event()
        self._build_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dexsim_sim_loop", daemon=True)
        self._thread.start()
        self._built.wait()
        if self._build_error is not None:
            raise self._build_error
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

        self._fingers: dict[str, GripperInterface] = {}
        for arm in self.sim.spec.arms:
            self._servers.append(ActionServer(
                self, FollowJointTrajectory, f"{arm.controller_prefix}/arm_controller/follow_joint_trajectory",
                execute_callback=lambda handle, a=arm.name: self._execute_trajectory(a, handle),
                goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
                callback_group=group))
            self._servers.append(ActionServer(
                self, GripperCommand, f"{arm.controller_prefix}{GRIPPER_COMMAND_ACTION}",
                execute_callback=lambda handle, a=arm.name: self._execute_gripper(a, handle),
                goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
                callback_group=group))
            # the Interbotix layout too: a trajectory controller on one finger joint (in its units)
            self._fingers[arm.name] = self._finger_interface(arm)
            self._servers.append(ActionServer(
                self, FollowJointTrajectory, f"{arm.controller_prefix}{GRIPPER_TRAJECTORY_ACTION}",
                execute_callback=lambda handle, a=arm.name: self._execute_finger_trajectory(a, handle),
                goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
                callback_group=group))
        self._reset_srv = self.create_service(ResetEpisode, "/dexsim/reset", self._on_reset, callback_group=group)

        self._description_pub.publish(String(data=self.sim.urdf_text))
        self._publish_static()
        self._go.set()
        self.get_logger().info(f"simulating {self.config.robot} / {self.config.task} "
                               f"(renderer {self.sim.world.renderer}, real_time_factor {self.config.real_time_factor})")

    # ------------------------------------------------------------ parameters
    def _read_parameters(self) -> SimNodeConfig:
        try:
            values = declare(self, PARAMS)
            self._fault = parse_fault(values.pop("fault"))
            return SimNodeConfig(**values)
        except (ParamError, FaultError) as exc:
            raise SimConfigError(str(exc)) from None

    def _on_set_parameters(self, params) -> SetParametersResult:
        """Only ``fault`` is settable at run time (the others are read-only)."""
        for param in params:
            if param.name == "fault":
                try:
                    fault = parse_fault(param.value)
                except FaultError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
                with self._cond:
                    self._fault = fault
                self.get_logger().warning(f"fault {fault} from sim time {self._sim_time:.3f} s")
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------- simulation
    def _run(self) -> None:
        """The simulation thread: build the Simulation, wait for the node's wiring, then loop."""
        try:
            self.sim = Simulation(self.config)
        except BaseException as exc:  # noqa: BLE001  (handed to __init__, which raises it)
            self._build_error = exc
            return
        finally:
            self._built.set()
        self._go.wait()
        if not self._stopping.is_set():
            self._loop()

    def _loop(self) -> None:
        """The simulation thread: controllers, physics, publishing, pacing, resets."""
        cfg = self.config
        js_period, cam_period = 1.0 / cfg.joint_state_hz, 1.0 / cfg.camera_hz
        next_js = next_cam = next_episode = 0.0
        anchor_wall, anchor_sim = time.monotonic(), self.sim.time
        try:
            while not self._stopping.is_set():
                self._serve_resets()
                fault = self._fault
                with self._cond:
                    if fault.aborts_goals:
                        for ctrl in self.sim.arm_controllers.values():
                            ctrl.abort_active(f"aborted: fault {fault} injected")
                    if fault.runs_controllers:
                        self.sim.update_controllers()
                new_time = self.sim.step()
                with self._cond:
                    self.sim.time = self._sim_time = new_time
                    self._cond.notify_all()
                stamp = cv.time_msg(new_time)
                self._clock_pub.publish(Clock(clock=stamp))
                if new_time >= next_js - 1e-9:
                    next_js += js_period
                    if fault.publishes_joint_states:
                        self._publish_state(stamp)
                if new_time >= next_episode - 1e-9:
                    next_episode += 1.0 / EPISODE_HZ
                    self._publish_episode(stamp)
                if cfg.publish_images and new_time >= next_cam - 1e-9:
                    next_cam += cam_period
                    if fault.publishes_images:
                        self._publish_images(stamp, new_time, fault.delay_s)
                if fault.delay_s:
                    self._publish_messages(self._delayed.due(new_time, fault.delay_s))
                elif len(self._delayed):
                    self._delayed.clear()           # frames held back when the delay ended: dropped
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
        frames = self.sim.moving_transforms(state)
        if self._tf_msg is None or len(self._tf_msg.transforms) != len(frames):
            self._tf_msg = cv.tf_message(cv.transform_msg(parent, child, tf, stamp) for parent, child, tf in frames)
        else:                 # the same frames every tick: refill the messages in place
            for msg, (parent, child, tf) in zip(self._tf_msg.transforms, frames):
                cv.transform_msg(parent, child, tf, stamp, into=msg)
        self._tf_pub.publish(self._tf_msg)

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

    def _publish_images(self, stamp, now: float, delay_s: float = 0.0) -> None:
        """Render the stereo pair and publish it (or, delay_s > 0, hold it back that long, stamp kept)."""
        images = self.sim.render(segmentation=False)      # rgb pair + left depth are all it publishes
        rig = self.sim.world.rig
        messages = []
        for side in ("left", "right"):
            info = rig.camera_info(side)
            messages += [(self._image_pubs[side], cv.image_to_msg(images[f"{side}_rgb"], "rgb8", stamp, info["frame_id"])),
                         (self._info_pubs[side], cv.camera_info_msg(info, stamp))]
        messages.append((self._depth_pub, cv.image_to_msg(images["depth"], "32FC1", stamp,
                                                          rig.camera_info("left")["frame_id"])))
        if delay_s > 0:
            self._delayed.push(now, messages)
        else:
            self._publish_messages([messages])

    @staticmethod
    def _publish_messages(batches) -> None:
        for batch in batches:
            for publisher, msg in batch:
                publisher.publish(msg)

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
        status = self._run_goal(ctrl, goal_id, handle,
                                lambda st: handle.publish_feedback(self._trajectory_feedback(ctrl, st)))
        if handle.is_cancel_requested:
            return FollowJointTrajectory.Result(error_code=SUCCESSFUL, error_string=status.error_string)
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

    def _finger_interface(self, arm) -> GripperInterface:
        """The finger-trajectory interface this sim serves for ``arm``: the robot's vendor mapping
        where it has one, else the arm's first finger joint, which moves half the gap."""
        vendor = gripper_interface(self.sim.spec.name)
        if vendor.kind == FOLLOW_JOINT_TRAJECTORY:
            return vendor.for_arm(arm.gripper_joints)
        joint = arm.gripper_joints[0]
        sign = 1.0 if self.sim.spec.limits[joint].upper > 0.0 else -1.0
        return GripperInterface(FOLLOW_JOINT_TRAJECTORY, GRIPPER_TRAJECTORY_ACTION, joint=joint, scale=0.5 * sign)

    def _execute_finger_trajectory(self, arm: str, handle):
        """FollowJointTrajectory on one finger joint: its last point's position as a finger gap,
        run by the arm's gripper controller (reached or stalled = success, as a trajectory
        controller without goal tolerances reports it)."""
        ctrl, finger = self.sim.gripper_controllers[arm], self._fingers[arm]
        traj = handle.request.trajectory
        with self._cond:
            try:
                if list(traj.joint_names) != [finger.joint]:
                    raise GripperGoalError(f"joint_names: this controller drives [{finger.joint!r}], got "
                                           f"{list(traj.joint_names)}")
                if not traj.points or len(traj.points[-1].positions) != 1:
                    raise GripperGoalError("points: expected at least one point with one position")
                goal_id = ctrl.start(finger.gap(traj.points[-1].positions[0]), 0.0, self._sim_time)
            except (GripperGoalError, GripperInterfaceError) as exc:
                self.get_logger().warning(f"finger FollowJointTrajectory goal rejected: {exc}")
                handle.abort()
                return FollowJointTrajectory.Result(error_code=INVALID_GOAL, error_string=str(exc))
        status = self._run_goal(ctrl, goal_id, handle, lambda status: None)
        if handle.is_cancel_requested:
            return FollowJointTrajectory.Result(error_code=SUCCESSFUL, error_string="canceled")
        if status.state is GoalState.SUCCEEDED:
            handle.succeed()
            return FollowJointTrajectory.Result(error_code=SUCCESSFUL, error_string=status.message)
        handle.abort()
        return FollowJointTrajectory.Result(error_code=GOAL_TOLERANCE_VIOLATED,
                                            error_string=status.message or "the sim node is shutting down")

    def _run_goal(self, ctrl, goal_id: int, handle, feedback):
        """Wait for a controller's goal to finish (or be canceled: then ``handle.canceled()``), calling
        ``feedback(status)`` at FEEDBACK_HZ; returns the final status."""
        with self._cond:
            next_feedback = self._sim_time
        while True:
            with self._cond:
                self._wait_tick(next_feedback, lambda: ctrl.status(goal_id).done)
                status = ctrl.cancel(goal_id) if handle.is_cancel_requested else ctrl.status(goal_id)
                now = self._sim_time
            if handle.is_cancel_requested:
                handle.canceled()
                break
            if status.done or self._stopping.is_set():
                break
            if now >= next_feedback:
                next_feedback = now + 1.0 / FEEDBACK_HZ
                feedback(status)
        with self._cond:
            ctrl.forget(goal_id)
        return status

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

        def fields(status) -> dict:
            return dict(position=status.position, effort=status.effort, stalled=status.stalled,
                        reached_goal=status.reached_goal)

        status = self._run_goal(ctrl, goal_id, handle,
                                        lambda st: handle.publish_feedback(GripperCommand.Feedback(**fields(st))))
        if not handle.is_cancel_requested:
            if status.state is GoalState.SUCCEEDED:
                handle.succeed()
            else:
                self.get_logger().warning(f"GripperCommand goal aborted: {status.message or 'node shutting down'}")
                handle.abort()
        return GripperCommand.Result(**fields(status))

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
        self._go.set()                  # a thread still waiting for the wiring returns at once
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
    """Run the sim node until SIGINT/SIGTERM; exit 0 (1 when the simulation thread failed, 2 on a bad parameter)."""
    return run_node(SimNode, name="sim_node", num_threads=4, config_errors=(SimConfigError,),
                    stopped=lambda node: node.stopped, on_stop=lambda node: node.stop(), args=args)


if __name__ == "__main__":
    sys.exit(main())
