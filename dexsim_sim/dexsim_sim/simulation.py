"""The simulated robot without ROS: the env (world + task), one ros2_control-style trajectory and
gripper controller per arm, and the sim clock. The sim node (:mod:`dexsim_sim.nodes.sim_node`)
wraps it in topics and actions; the in-process closed-loop evaluation drives the very same object
directly, so the two differ only in transport.

Clock: :meth:`Simulation.step` advances one control tick (``control_hz``, default 100 Hz) of
``physics_hz`` physics. The task's bookkeeping (:meth:`~dexsim_sim.tasks.base.Task.after_step`,
e.g. the grasp's hold counter) runs at ``task_hz``, the data engine's control rate (10 Hz), so
success means the same here, in the data engine and in every evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p

from .control.gripper_controller import GripperController, GripperControllerConfig
from .control.trajectory_controller import JointTrajectoryController, TrajectoryControllerConfig
from .env import TASKS, DexSimEnv
from .episode import settle, start_episode
from .robots.kinematics import MOVABLE, UrdfJoint, parse_urdf_joints
from .robots.registry import get_robot, gripper_joint_positions
from .robots.transforms import axis_angle_to_matrix, make_transform, matrix_to_quat, pose_to_matrix, quat_multiply
from .world.camera import LINK_TO_OPTICAL, RENDERERS

WORLD_FRAME = "world"
BASE_FRAME = "base_link"
OBJECT_FRAME_PREFIX = "object_"
CAMERA_PREFIX = "stereo"
DEFAULT_TASK_HZ = 10.0           # Hz: the data engine's control rate, at which task bookkeeping runs


class SimConfigError(ValueError):
    """A bad sim node parameter (names the parameter and the value)."""


@dataclass(frozen=True)
class SimNodeConfig:
    robot: str = "wx250s"
    task: str = "grasp"
    scene_file: str = ""               # '' = the task's default scene for the robot
    dr_spec: str = ""                  # DR spec file (or shipped name) applied at every reset; '' = none
    physics_hz: float = 240.0
    control_hz: float = 100.0
    task_hz: float = DEFAULT_TASK_HZ   # task bookkeeping (hold counters): the data engine's control rate
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
        if self.dr_spec:
            from .scaling.dr import DRSpecError, load_dr_spec
            try:
                spec = load_dr_spec(self.dr_spec)
            except (DRSpecError, OSError, ValueError) as exc:
                raise SimConfigError(f"dr_spec: {exc}") from None
            if spec.task != self.task:
                raise SimConfigError(f"dr_spec: {spec.name!r} is for task {spec.task!r}, not {self.task!r}")
        for key in ("physics_hz", "control_hz", "task_hz", "joint_state_hz", "camera_hz"):
            v = getattr(self, key)
            if not (math.isfinite(v) and v > 0):
                raise SimConfigError(f"{key}: must be a positive rate (Hz), got {v!r}")
        if self.control_hz > self.physics_hz:
            raise SimConfigError(f"control_hz: must not exceed physics_hz ({self.physics_hz}), got {self.control_hz}")
        if self.task_hz > self.control_hz:
            raise SimConfigError(f"task_hz: must not exceed control_hz ({self.control_hz}), got {self.task_hz}")
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
        # movable joints with their origin as translation + quaternion, for moving_transforms
        self._joint_frames = [(name, j, j.origin[:3, 3].copy(), matrix_to_quat(j.origin[:3, :3]))
                              for name, j in self.urdf_joints.items() if j.kind in MOVABLE]
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
        self._grip_effort = [0.0] * len(self.spec.gripper_joints)
        self.episode_seed = int(config.seed)
        self.episode_start_tick = 0
        self._episode_start_time, self._task_ticks = 0.0, 0
        self._target = None
        self.dr_spec = None
        if config.dr_spec:
            from .scaling.dr import load_dr_spec
            self.dr_spec = load_dr_spec(config.dr_spec)
        self.reset(config.seed)

    @property
    def world(self):
        return self.env.world

    def reset(self, seed: int, scene_file: str = "", scene=None, spec=None) -> dict:
        """New episode from ``seed`` (and a scene file or a validated Scene) set up as everywhere else
        (:mod:`dexsim_sim.episode`): with a DR ``spec`` its sample for ``seed`` is applied; the
        poses settle; active goals are aborted. Returns task info (plus ``dr_sample`` with a spec)."""
        from .scaling.world_target import WorldTarget

        scene = scene if scene is not None else (scene_file or None)
        if scene is not None:
            self.env.reset(seed=int(seed), options={"scene": scene, "observe": False})
            self._target = None                      # a new world: a new DR target
        if self._target is None or self._target.world is not self.world:
            self._target = WorldTarget(self.world)
        sample = start_episode(self.env, self._target, seed, spec if spec is not None else self.dr_spec)
        settle(self.world)
        self.episode_seed, self.episode_start_tick = int(seed), self._ticks
        self._episode_start_time, self._task_ticks = self._physics_steps / self.config.physics_hz, 0
        state = self.read_joints()
        for arm in self.spec.arms:
            q = state.positions[self._arm_cols[arm.name]]
            self.arm_controllers[arm.name].reset(q, now=self.time, reason="episode reset")
        gaps = self.world.gripper_openings()
        for i, arm in enumerate(self.spec.arms):
            self.gripper_controllers[arm.name].reset(float(gaps[i]), now=self.time, reason="episode reset")
        info = dict(self.env.task.evaluate())
        if sample is not None:
            info["dr_sample"] = sample.to_dict()
        return info

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
        grip_cmd, grip_effort = [], []
        for i, arm in enumerate(self.spec.arms):
            cols = self._arm_cols[arm.name]
            self._arm_cmd[cols] = self.arm_controllers[arm.name].update(self.time, state.positions[cols],
                                                                        state.velocities[cols])
            sl = slice(i * per_arm, (i + 1) * per_arm)
            signs = np.sign(grip_q[sl]) + (grip_q[sl] == 0)   # gap = sum |finger|
            gap = float(np.abs(grip_q[sl]).sum())
            rate = float((signs * grip_qd[sl]).sum())
            effort = float(np.abs(grip_eff[sl]).mean())
            ctrl = self.gripper_controllers[arm.name]
            target = ctrl.update(self.time, gap, rate, effort)
            values = gripper_joint_positions(self.spec, target, arm.name)
            grip_cmd += [values[j] for j in arm.gripper_joints]
            grip_effort += [ctrl.max_effort] * len(arm.gripper_joints)    # the goal's max_effort per finger
        self._grip_cmd = np.asarray(grip_cmd)
        self._grip_effort = grip_effort

    def step(self) -> float:
        """Send the targets and run physics to the next control tick; returns the new sim time (not
        yet published to :attr:`time`: the node commits it under its lock)."""
        self.world.command(self._arm_cmd, self._grip_cmd, self._grip_effort)
        self._ticks += 1
        target = int(round(self._ticks * self.config.physics_hz / self.config.control_hz))
        self.world.step(target - self._physics_steps)
        self._physics_steps = target
        task_ticks = int(math.floor((target / self.config.physics_hz - self._episode_start_time) * self.config.task_hz
                                    + 1e-9))
        if task_ticks > self._task_ticks:           # the task's bookkeeping at task_hz of sim time
            self._task_ticks = task_ticks
            self.env.task.after_step()
        return target / self.config.physics_hz

    def render(self, segmentation: bool = True) -> dict[str, np.ndarray]:
        return self.world.render(segmentation=segmentation)

    def episode_status(self) -> dict:
        """The task's success check now (``evaluate()``), with the episode's seed and step count."""
        info = dict(self.env.task.evaluate())
        info["seed"] = self.episode_seed
        info["num_steps"] = self._ticks - self.episode_start_tick
        return info

    # ------------------------------------------------------------ frames
    def moving_transforms(self, state: JointReadout) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, pose 7-vector x y z qx qy qz qw) of every movable URDF joint and of every
        object in the world frame. Quaternion arithmetic on the joints' precomputed origins, no 4x4
        round trips: the sim node publishes these at joint_state_hz (100 Hz)."""
        values = dict(zip(state.names, state.positions))
        out = []
        for name, j, t0, q0 in self._joint_frames:
            q = values.get(name, 0.0)
            if j.kind == "prismatic":
                pose = np.concatenate([t0 + j.origin[:3, :3] @ (j.axis * q), q0])
            else:
                half = 0.5 * q
                pose = np.concatenate([t0, quat_multiply(q0, np.append(j.axis * math.sin(half), math.cos(half)))])
            out.append((j.parent, j.child, pose))
        for name in self.world.objects:
            out.append((WORLD_FRAME, OBJECT_FRAME_PREFIX + name, np.asarray(self.world.object_pose(name), float)))
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
