"""The policy node: ONE executable for the simulated and the real arm (only remaps and parameters differ).

``python -m dexsim_policy.nodes.policy_node --ros-args -p robot:=wx250s -p checkpoint:=RUN/best``

Inputs: ``/stereo/left/image_rect``, ``/stereo/right/image_rect`` (sensor-data QoS; any of rgb8,
bgr8, rgba8, bgra8, mono8, mono16 through :mod:`dexsim_sim.ros.conversions`) and ``/joint_states``,
matched by stamp (approximate time, ``sync_tolerance_s``).
Outputs: ``arm_action`` (control_msgs/FollowJointTrajectory) goals, gripper goals when the
open/closed state changes through the robot's gripper interface
(:mod:`dexsim_sim.control.gripper_interface`: GripperCommand on the gap, or a one-point
FollowJointTrajectory on the Interbotix finger joint ``left_finger`` = gap / 2), per arm the policy drives
(a bimanual checkpoint drives both arms of ``wx250s_bimanual``, under ``/left`` and ``/right``), ``/diagnostics``
(diagnostic_msgs/DiagnosticArray: latency input stamp -> goal sent, counters, watchdog state) and, in
dry run, ``dry_run_topic`` (trajectory_msgs/JointTrajectory) INSTEAD of any goal.
Service: ``/dexsim/policy/set_active`` (dexsim_msgs/SetPolicyActive). The node starts INACTIVE.

Inference (``trigger`` = ``input``, the default) runs on its own thread
(:class:`~dexsim_policy.loop.InferenceLoop`) the moment a newer synchronized input set is complete:
the subscription callbacks only hand the newest set to a slot of one (an older set not yet taken is
dropped, never queued), so the goal goes out as soon as inference ends and a slow inference skips
stale frames. With ``trigger`` = ``timer`` it runs at ``rate_hz`` of the node clock instead (sim
time aware). The ``rate_hz`` timer also runs the watchdog and the diagnostics; torch uses one thread. The chunk goes through the shared
:class:`~dexsim_policy.controller.PolicyController`, the execution path the in-process evaluation
uses too: rows timed from the IMAGE STAMP (row k due at stamp + (k + 1) action_dt_s; rows already
past after inference are dropped), blended with the earlier chunks by temporal ensembling,
safety-filtered (joint position, velocity and acceleration limits, end-effector workspace box,
NaN/inf refusal) from the position currently commanded, so consecutive goals join without jumps.
Goals carry header stamp 0 (start on receipt) with times relative to the send time. Watchdog:
inputs older than ``max_input_age_s`` stop the node sending (the active goal is cancelled, so the
controller holds) until fresh inputs return.
"""
from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
import torch
from control_msgs.action import FollowJointTrajectory, GripperCommand
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from dexsim_msgs.srv import SetPolicyActive
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory

from dexsim_sim.control.gripper_interface import GRIPPER_COMMAND, GripperInterfaceError, gripper_interface
from dexsim_sim.robots.joint_names import JointNameError, JointNameMap
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.ros.node_main import run_node
from dexsim_sim.ros.params import NodeParams, Param, ParamError, declare
from dexsim_sim.ros import conversions as cv

from ..checkpoint import read_meta
from ..commander import DEFAULT_ACTION_DT_S, DEFAULT_MAX_ACCELERATION
from ..controller import DEFAULT_MAX_INPUT_AGE_S, arms_observation, make_arms_controller, policy_observation
from ..errors import PolicyError
from ..loop import InferenceLoop, IntervalStats
from ..runtime import PolicyRuntime
from ..sync import ApproximateSync

NODE_NAME = "dexsim_policy"
LEFT, RIGHT, JOINTS = "left_rgb", "right_rgb", "joints"
STATE_DEPTH = 10
SYNC_DEPTH = 10
LATENCY_WINDOW = 200          # latencies kept for the p50/p99 in the diagnostics
TRIGGERS = ("input", "timer")
NS_PER_S = 1e9
MS_PER_S = 1e3


class PolicyNodeConfigError(ValueError):
    """A bad policy node parameter (names the parameter and the value)."""


PARAMS = NodeParams("policy_node", (
    Param("robot", "wx250s", "robot name in the registry (joint names, limits, gripper range, kinematics)"),
    Param("checkpoint", "", "policy checkpoint directory (model.safetensors + policy.json)"),
    Param("trigger", "input", "when inference runs: input (on its own thread as soon as a newer synchronized "
          "input set is complete; stale sets dropped) or timer (at rate_hz)", choices=TRIGGERS),
    Param("rate_hz", 10.0, "watchdog and diagnostics rate, and the inference rate with trigger timer; Hz of the "
          "node clock (sim time with use_sim_time)", above=0.0),
    Param("max_input_age_s", DEFAULT_MAX_INPUT_AGE_S,
          "watchdog: inputs older than this (s) stop sending and cancel the active goal", above=0.0),
    Param("sync_tolerance_s", 0.05, "largest stamp difference (s) between matched images and joint states", above=0.0),
    Param("dry_run", False, "publish the trajectory that would be sent on dry_run_topic; send no goal"),
    Param("dry_run_topic", "/dexsim/policy/dry_run_trajectory", "trajectory_msgs/JointTrajectory topic of dry runs"),
    Param("arm_action", "/arm_controller/follow_joint_trajectory",
          "control_msgs/FollowJointTrajectory action (each arm of a multi-arm robot: /<arm> + this)"),
    Param("gripper_interface", "", "how the gripper is commanded: gripper_command (GripperCommand on the gap, m), "
          "follow_joint_trajectory (one finger joint in its units, the Interbotix layout), '' = the robot's vendor "
          "driver's", choices=("", "gripper_command", "follow_joint_trajectory")),
    Param("gripper_action", "", "the gripper's action (each arm of a multi-arm robot: /<arm> + this); '' = the "
          "interface's: /gripper_controller/gripper_cmd or /gripper_controller/follow_joint_trajectory"),
    Param("chunk_execute_steps", 0, "rows of each predicted chunk sent per goal (0 = the whole chunk)", low=0),
    Param("replan_steps", 0, "action periods between predictions (0 = the checkpoint's: 1 for ACT, n_action_steps "
          "for diffusion); frames between only extend the observation history", low=0),
    Param("action_dt_s", DEFAULT_ACTION_DT_S, "s between chunk rows: the control period of the training data",
          above=0.0),
    Param("max_acceleration", DEFAULT_MAX_ACCELERATION, "joint acceleration limit of the safety filter, rad/s^2",
          above=0.0),
    Param("velocity_scale", 1.0, "fraction of the URDF joint velocity limits allowed", above=0.0, high=1.0),
    Param("workspace_check", True, "refuse/truncate commands whose end effector leaves the reach box"),
    Param("gripper_max_effort", 0.0, "max_effort of GripperCommand goals, N (0 = the controller's limit)", low=0.0),
    Param("driver_joint_names", [""], "the names the arm driver publishes and takes for the robot's arm then "
          "finger joints, in the registry's order ([''] = the registry's own names; config/<robot>.yaml)"),
    Param("device", "cpu", "torch device of the policy (cpu | cuda | cuda:N)"),
    Param("seed", 0, "seed of the policy's sampling noise (diffusion); reset on every activation", low=0),
    Param("ensemble_coeff", -1.0, "temporal ensembling m of overlapping chunks (weights exp(-m i)); < 0 = the "
          "checkpoint's"),
))


class PolicyNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        p = self._read_parameters()
        self.p = p
        try:
            self.robot = get_robot(p["robot"])
        except KeyError as exc:
            raise PolicyNodeConfigError(f"robot: {exc}") from None
        if not p["checkpoint"]:
            raise PolicyNodeConfigError("checkpoint: a checkpoint directory must be given")
        self._check_checkpoint(p["checkpoint"])
        torch.set_num_threads(1)
        try:
            self.runtime = PolicyRuntime.load(p["checkpoint"], device=p["device"], seed=p["seed"])
            self.controller = make_arms_controller(
                self.runtime, self.robot, ensemble_coeff="checkpoint" if p["ensemble_coeff"] < 0 else p["ensemble_coeff"],
                action_dt_s=p["action_dt_s"], execute_steps=p["chunk_execute_steps"],
                max_acceleration=p["max_acceleration"], velocity_scale=p["velocity_scale"],
                workspace=p["workspace_check"], max_input_age_s=p["max_input_age_s"],
                replan_steps=p["replan_steps"])
        except PolicyError as exc:
            raise PolicyNodeConfigError(f"checkpoint/limits: {exc}") from None
        if self.runtime.config.use_points:
            raise PolicyNodeConfigError(f"checkpoint: {self.runtime.config.policy_type} needs a point cloud input, "
                                        "which this node does not subscribe to yet")
        self.arms = [a for a in self.robot.arms if a.name in self.controller.names]   # the arms this policy drives
        try:
            self.names = JointNameMap(self.robot.arm_joints + self.robot.gripper_joints, p["driver_joint_names"])
        except JointNameError as exc:
            raise PolicyNodeConfigError(str(exc)) from None
        self.sync = ApproximateSync((LEFT, RIGHT, JOINTS), p["sync_tolerance_s"], SYNC_DEPTH)
        self._lock = threading.RLock()   # goal-response callbacks may run inside send_goal_async
        self._active = False
        self._stale = True    # no input yet: the first fresh inputs are not a stale event
        self._last_pivot = -math.inf      # stamp of the newest input set inference ran on
        self._offered_pivot = -math.inf   # stamp of the newest input set handed to the inference loop
        self._offer_lock = threading.Lock()
        self._goal_handles: dict[int, object] = {}   # arm index -> the active FollowJointTrajectory goal
        self._stats = IntervalStats(LATENCY_WINDOW)
        self._inference_ms = math.nan
        self.counters = {"stale_events": 0, "inference_errors": 0, "no_server": 0, "late_chunks": 0, "bad_inputs": 0}
        self._loop = InferenceLoop(self._infer_newest, name="dexsim_policy_inference") \
            if p["trigger"] == "input" else None

        io_group = ReentrantCallbackGroup()
        self._infer_group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Image, "/stereo/left/image_rect", lambda m: self._on_image(LEFT, m),
                                 qos_profile_sensor_data, callback_group=io_group)
        self.create_subscription(Image, "/stereo/right/image_rect", lambda m: self._on_image(RIGHT, m),
                                 qos_profile_sensor_data, callback_group=io_group)
        self.create_subscription(JointState, "/joint_states", self._on_joints,
                                 QoSProfile(depth=STATE_DEPTH, reliability=ReliabilityPolicy.RELIABLE),
                                 callback_group=io_group)
        # a multi-arm robot's controllers live under /<arm> (the sim node's and ros2_control's layout)
        self._arm_clients = [ActionClient(self, FollowJointTrajectory, f"{a.controller_prefix}{p['arm_action']}",
                                          callback_group=io_group) for a in self.arms]
        try:
            base = gripper_interface(self.robot.name, p["gripper_interface"])
            self._grippers = [base.for_arm(a.gripper_joints) for a in self.arms]
        except GripperInterfaceError as exc:
            raise PolicyNodeConfigError(str(exc)) from None
        gripper_type = GripperCommand if base.kind == GRIPPER_COMMAND else FollowJointTrajectory
        self._gripper_clients = [ActionClient(self, gripper_type, f"{a.controller_prefix}{p['gripper_action'] or g.action}",
                                              callback_group=io_group) for a, g in zip(self.arms, self._grippers)]
        self._dry_pub = self.create_publisher(JointTrajectory, p["dry_run_topic"], STATE_DEPTH)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", STATE_DEPTH)
        self.create_service(SetPolicyActive, "/dexsim/policy/set_active", self._on_set_active, callback_group=io_group)
        self.create_timer(1.0 / p["rate_hz"], self._tick, callback_group=self._infer_group)
        if self._loop is not None:
            self._loop.start()
        trigger = "on every new input set" if self._loop is not None else f"at {p['rate_hz']} Hz"
        self.get_logger().info(f"policy {self.runtime.config.policy_type} for {self.robot.name} "
                               f"(arms {self.controller.names}) from {p['checkpoint']}"
                               f" ({trigger}; "
                               f"{'DRY RUN' if p['dry_run'] else 'sending goals'}); inactive")

    # ------------------------------------------------------------ parameters
    def _read_parameters(self) -> dict:
        try:
            return declare(self, PARAMS)
        except ParamError as exc:
            raise PolicyNodeConfigError(str(exc)) from None

    def _check_checkpoint(self, path: str) -> None:
        try:
            trained_on = read_meta(path).get("dataset_info", {}).get("robot", "")
        except PolicyError as exc:
            raise PolicyNodeConfigError(f"checkpoint: {exc}") from None
        if trained_on and trained_on != self.robot.name:
            raise PolicyNodeConfigError(f"checkpoint: trained on robot {trained_on!r}, node robot is {self.robot.name!r}")

    # ------------------------------------------------------------ inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds / NS_PER_S

    def _on_image(self, stream: str, msg: Image) -> None:
        self.sync.add(stream, cv.to_seconds(msg.header.stamp), msg)
        self._offer()

    def _on_joints(self, msg: JointState) -> None:
        readout = arms_observation(self.names.to_dexsim(msg.name), msg.position, self.robot.arms)
        if readout is None:
            return  # a partial joint state (e.g. another device's)
        if not (all(np.all(np.isfinite(q)) for q in readout[0]) and np.all(np.isfinite(readout[1]))):
            self.counters["bad_inputs"] += 1       # never acted on: the joints go stale and the watchdog holds
            self.get_logger().warning("joint state with NaN/inf positions dropped", throttle_duration_sec=5.0)
            return
        self.sync.add(JOINTS, cv.to_seconds(msg.header.stamp), readout)
        self._offer()

    def _offer(self) -> None:
        """(trigger input) Hand the newest complete input set, if newer than the last one handed
        over, to the inference loop; an older one it has not started on is dropped."""
        if self._loop is None or not self._active or self._stale:
            return
        with self._offer_lock:
            synced = self.sync.latest()
            if synced is None or synced.stamp <= self._offered_pivot:
                return
            self._offered_pivot = synced.stamp
        self._loop.submit(synced)

    def _infer_newest(self, synced) -> None:
        """The inference loop's work: act on ``synced`` unless it is no longer wanted."""
        with self._lock:
            if not self._active or self._stale or synced.stamp <= self._last_pivot:
                return
            self._last_pivot = synced.stamp
            self._act(synced)

    # ------------------------------------------------------------ control
    def _on_set_active(self, request, response):
        with self._lock:
            if request.active and not self._active:
                # a new episode: act only on inputs taken from now on (a frame from before a reset
                # would start the episode with the previous one's last chunk)
                self.controller.reset()
                self._last_pivot = self._now()
                with self._offer_lock:
                    self._offered_pivot = self._last_pivot
                if self._loop is not None:
                    self._loop.slot.clear()
            elif not request.active and self._active:
                self._hold("deactivated")
            self._active = bool(request.active)
        response.success, response.active = True, self._active
        response.message = "policy active" if self._active else "policy inactive (holding)"
        self.get_logger().info(response.message)
        return response

    def _hold(self, reason: str) -> None:
        """Stop sending and cancel the active goal (the controller holds its position)."""
        handles, self._goal_handles = self._goal_handles, {}
        self.controller.hold()
        for handle in handles.values():
            handle.cancel_goal_async()
        if handles:
            self.get_logger().warning(f"holding: {reason}")

    def _watchdog(self, now: float) -> bool:
        """True when every input is fresh; reports (once per event) and holds when not."""
        stale = self.controller.inputs_fresh(self.sync.newest_stamps(), now)
        with self._lock:
            self._check_stale(stale)
        return not stale

    def _check_stale(self, stale: list[str]) -> None:
        if stale and not self._stale:
            self.counters["stale_events"] += 1
            self._hold(f"stale inputs {stale} (older than {self.p['max_input_age_s']} s)")
            self.get_logger().warning(f"watchdog: inputs {stale} stale; not sending")
        elif not stale and self._stale:
            self.get_logger().info("watchdog: inputs fresh again")
            self.controller.hold()
        self._stale = bool(stale)

    def _tick(self) -> None:
        now = self._now()
        with self._lock:
            active = self._active
        fresh = self._watchdog(now)
        if active and fresh:
            if self._loop is not None:
                self._offer()    # a set that arrived while the inputs were stale (or before the first check)
            else:
                synced = self.sync.latest()
                if synced is not None:
                    self._infer_newest(synced)
        self._publish_diagnostics(now, active)

    def _observation(self, synced) -> tuple[dict, list[np.ndarray]]:
        images = []
        for key in (LEFT, RIGHT):
            msg = synced.items[key][1]
            images.append(cv.msg_rgb(msg))          # any camera encoding -> the policy's RGB
        q, gap = synced.items[JOINTS][1]
        return policy_observation(images[0], images[1], q, gap), q

    def _act(self, synced) -> None:
        t0 = time.perf_counter()
        try:
            obs, q_measured = self._observation(synced)
            chunk = self.controller.infer(obs, synced.stamp)
        except (PolicyError, cv.ConversionError) as exc:
            self.counters["inference_errors"] += 1
            self.get_logger().error(f"inference failed: {exc}")
            return
        if chunk is None:
            return    # a frame between re-plans: the committed chunk keeps executing
        self._inference_ms = (time.perf_counter() - t0) * MS_PER_S
        # the shared execution path: rows timed from the image stamp, blended, safety-filtered (per arm)
        results = self.controller.command_chunk(chunk, synced.stamp, self._now(), q_measured)
        if all(r.command is None for r in results):
            self.counters["late_chunks"] += 1   # every row already past: the input was too old
            return
        trajectories = 0
        with self._lock:
            if not self._active:
                return    # deactivated during inference
            for i, result in enumerate(results):
                cmd = result.command
                if cmd is None:
                    continue
                sent = False
                if cmd.has_trajectory:
                    sent = self._send_trajectory(i, cmd)
                    trajectories += 1
                elif not cmd.report.accepted:
                    self.get_logger().warning(f"{self.arms[i].name}: command refused by the safety filter: "
                                              f"{cmd.report.refused_reason}")
                gripper_sent = cmd.gripper_position is not None and self._send_gripper(i, cmd.gripper_position)
                self.controller.arms[i].commander.mark_sent(sent, gripper_sent)
        if trajectories:
            self._stats.record((self._now() - synced.oldest_stamp) * MS_PER_S)

    def _send_trajectory(self, arm: int, cmd) -> bool:
        """Send arm ``arm``'s goal (or publish it in dry run); True when a goal went out."""
        traj = cv.joint_trajectory_msg(self.names.to_driver(self.arms[arm].joints), cmd.times, cmd.positions, stamp=0.0)
        if self.p["dry_run"]:
            traj.header.stamp = self.get_clock().now().to_msg()
            self._dry_pub.publish(traj)
            return False
        client = self._arm_clients[arm]
        if not client.server_is_ready():
            self.counters["no_server"] += 1
            return False
        future = client.send_goal_async(FollowJointTrajectory.Goal(trajectory=traj))
        future.add_done_callback(lambda f: self._on_goal_response(arm, f))
        return True

    def _on_goal_response(self, arm: int, future) -> None:
        handle = future.result()
        if handle is not None and handle.accepted:
            with self._lock:
                keep = self._active and not self._stale
                if keep:
                    self._goal_handles[arm] = handle
            if not keep:
                handle.cancel_goal_async()

    def _send_gripper(self, arm: int, position: float) -> bool:
        client = self._gripper_clients[arm]
        if self.p["dry_run"] or not client.server_is_ready():
            return False
        finger = self._grippers[arm]
        if finger.kind == GRIPPER_COMMAND:
            goal = GripperCommand.Goal()
            goal.command.position = float(position)
            goal.command.max_effort = float(self.p["gripper_max_effort"])
        else:   # one point on the finger joint, in its units
            goal = FollowJointTrajectory.Goal(trajectory=cv.joint_trajectory_msg(
                self.names.to_driver([finger.joint]), [finger.move_time_s], [[finger.joint_position(position)]],
                stamp=0.0))
        client.send_goal_async(goal)
        return True

    # ------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self, now: float, active: bool) -> None:
        timing = self._stats.summary()
        values = {"active": active, "dry_run": self.p["dry_run"], "stale": self._stale,
                  "latency_last_ms": self._stats.latencies[-1] if self._stats.latencies else math.nan,
                  "latency_p50_ms": timing["latency_p50_ms"], "latency_p99_ms": timing["latency_p99_ms"],
                  "goal_interval_ms": timing["interval_mean_ms"], "goal_jitter_ms": timing["jitter_ms"],
                  "dropped_inputs": self._loop.dropped if self._loop else 0,
                  "inference_ms": self._inference_ms, **self.controller.counters, **self.counters,
                  **{f"violation_{k}": v for k, v in self.controller.violations.items()}}
        if self._stale and active:
            level, message = DiagnosticStatus.WARN, "inputs stale: holding"
        elif active:
            level, message = DiagnosticStatus.OK, "active"
        else:
            level, message = DiagnosticStatus.OK, "inactive"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: policy", message=message,
                                  hardware_id=self.robot.name,
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = cv.time_msg(max(now, 0.0))
        self._diag_pub.publish(msg)

    def shutdown(self) -> None:
        """Stop the inference loop and cancel the active goal so the arm holds when the node stops."""
        if self._loop is not None:
            self._loop.stop()
        with self._lock:
            self._active = False
            self._hold("shutting down")


def main(args=None) -> int:
    """Run the policy node until SIGINT/SIGTERM; exit 0 (2 on a bad parameter). On stop it cancels
    the active goal, so the arm holds."""
    return run_node(PolicyNode, name="policy_node", num_threads=4, config_errors=(PolicyNodeConfigError,),
                    on_stop=lambda node: node.shutdown(), args=args)


if __name__ == "__main__":
    sys.exit(main())
