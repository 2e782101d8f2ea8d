"""Gymnasium environment over a built world and a task: ``DexSimEnv(robot=..., task=...)``.

The world is built once (per scene); ``reset`` restores the post-build state and lets the task
randomize from ``self.np_random`` (so ``reset(seed=s)`` always gives the same episode).

Actions (float32, one vector):
- ``"joint"``: arm joint position targets (``spec.arm_joints`` order, rad) then one gripper
  closure per arm in [0, 1] (0 open, 1 closed).
- ``"ee"``: per arm a 7-vector ee target in the robot base frame ``(x, y, z, qx, qy, qz, qw)``,
  then one gripper closure per arm; solved with ``skills.ik`` from the current joints.
Targets are tracked by PyBullet position control with the URDF velocity and effort limits over
``physics_hz / control_hz`` physics steps.

Observations: ``joint_pos``, ``joint_vel`` (arm joints), ``ee_pose`` (7 per arm, base frame),
``gripper`` (finger gap per arm, m) and, unless ``render_images=False``, ``left_rgb``,
``right_rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 m and ``seg`` (H, W) int32 body uids;
with ``wrist_cameras`` (default: on for two-arm robots, as the paper's rearrangement setup),
``wrist_rgb_<arm>`` (h, w, 3) uint8 from an RGB camera on each arm's end effector.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from .robots.registry import get_robot
from .robots.transforms import matrix_to_pose, pose_to_matrix
from .tasks.base import Task
from .tasks.grasp import GraspTask
from .tasks.open_box import OpenBoxTask
from .tasks.rearrange import RearrangeTask
from .world.builder import World
from .world.camera import WristCamera
from .world.scene import Scene, load_scene

TASKS: dict[str, type[Task]] = {"grasp": GraspTask, "open_box": OpenBoxTask, "rearrange": RearrangeTask}
ACTION_MODES = ("joint", "ee")
POSITION_BOUND = 5.0           # m, bound of ee position actions / observations in the action space
SEG_MAX = 2 ** 24              # PyBullet body uids are far below this
QUAT_MIN_NORM = 1e-6
# Wrist camera optical frame in the end-effector frame (x approach): 9 cm behind the grasp centre,
# 4 cm above it, looking along the approach axis (optical z = ee x).
WRIST_CAMERA_OFFSET = (-0.09, 0.0, 0.04, -0.5, 0.5, -0.5, 0.5)


class ActionError(ValueError):
    """An action of the wrong shape or with NaN/inf values."""


class EnvConfigError(ValueError):
    """A bad environment configuration value."""


@dataclass(frozen=True)
class EnvConfig:
    task: str = "grasp"
    robot: str | None = None            # None: the task's default robot
    scene: str | None = None            # scene file; None: the task's default scene for the robot
    action_mode: str = "joint"
    control_hz: float = 10.0
    physics_hz: float = 240.0
    image_size: tuple[int, int] = (512, 640)   # (H, W)
    render_images: bool = True
    renderer: str = "auto"
    max_episode_steps: int = 100
    wrist_cameras: bool | None = None          # None: on for two-arm robots (when rendering images)
    wrist_image_size: tuple[int, int] = (96, 128)   # (H, W)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise EnvConfigError(f"task: unknown {self.task!r} (valid: {sorted(TASKS)})")
        if self.action_mode not in ACTION_MODES:
            raise EnvConfigError(f"action_mode: unknown {self.action_mode!r} (valid: {ACTION_MODES})")
        for key in ("control_hz", "physics_hz"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise EnvConfigError(f"{key}: must be a positive number (Hz), got {v!r}")
        ratio = self.physics_hz / self.control_hz
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise EnvConfigError(f"control_hz: physics_hz / control_hz must be a whole number >= 1, got {ratio}")
        if len(self.image_size) != 2 or any(not isinstance(v, int) or v <= 0 for v in self.image_size):
            raise EnvConfigError(f"image_size: expected (H, W) positive ints, got {self.image_size!r}")
        if len(self.wrist_image_size) != 2 or any(not isinstance(v, int) or v <= 0 for v in self.wrist_image_size):
            raise EnvConfigError(f"wrist_image_size: expected (H, W) positive ints, got {self.wrist_image_size!r}")
        if not (isinstance(self.max_episode_steps, int) and self.max_episode_steps >= 1):
            raise EnvConfigError(f"max_episode_steps: must be an int >= 1, got {self.max_episode_steps!r}")

    @property
    def substeps(self) -> int:
        return int(round(self.physics_hz / self.control_hz))


class DexSimEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        self.config = EnvConfig(**kwargs)
        if render_mode not in (None, "rgb_array"):
            raise EnvConfigError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        task_cls = TASKS[self.config.task]
        path = Path(self.config.scene) if self.config.scene else task_cls.scene_path(self.config.robot)
        self.task: Task = task_cls()
        self.world: World | None = None
        self._build(load_scene(path))
        self.spec_robot = get_robot(self.world.scene.robot.name)
        self.wrist_cameras = self._wrist_cameras()
        self.action_space = self._action_space()
        self.observation_space = self._observation_space()
        self._steps = 0
        self._last_obs: dict | None = None

    # ----------------------------------------------------------------- set-up
    def _build(self, scene: Scene) -> None:
        if self.world is not None:
            self.world.close()
        renderer = self.config.renderer
        if renderer == "auto" and not self.config.render_images:
            renderer = "tiny"                  # no images: skip loading the EGL plugin
        self.world = World.build(scene, renderer=renderer, image_size=self.config.image_size,
                                 physics_hz=self.config.physics_hz)
        self.task.load(self.world)
        self._initial_state = self.world.save_state()

    def _wrist_cameras(self) -> dict[str, WristCamera]:
        """One RGB camera per arm, behind and above the fingers, looking along the approach axis."""
        wanted = self.config.wrist_cameras
        if wanted is None:
            wanted = len(self.spec_robot.arms) > 1
        if not (wanted and self.config.render_images):
            return {}
        h, w = self.config.wrist_image_size
        return {arm.name or "arm": WristCamera(self.world.robot.body, self.world.robot.ee_links[i], width=w, height=h,
                                               offset=WRIST_CAMERA_OFFSET)
                for i, arm in enumerate(self.spec_robot.arms)}

    @property
    def n_arms(self) -> int:
        return len(self.spec_robot.arms)

    def _action_space(self) -> gym.spaces.Box:
        spec = self.spec_robot
        if self.config.action_mode == "joint":
            low = [spec.limits[j].lower for j in spec.arm_joints] + [0.0] * self.n_arms
            high = [spec.limits[j].upper for j in spec.arm_joints] + [1.0] * self.n_arms
        else:
            low = ([-POSITION_BOUND] * 3 + [-1.0] * 4) * self.n_arms + [0.0] * self.n_arms
            high = ([POSITION_BOUND] * 3 + [1.0] * 4) * self.n_arms + [1.0] * self.n_arms
        return gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32), dtype=np.float32)

    def _observation_space(self) -> gym.spaces.Dict:
        n, h, w = len(self.spec_robot.arm_joints), *self.config.image_size
        inf = np.inf
        spaces = {"joint_pos": gym.spaces.Box(-inf, inf, (n,), np.float32),
                  "joint_vel": gym.spaces.Box(-inf, inf, (n,), np.float32),
                  "ee_pose": gym.spaces.Box(-inf, inf, (7 * self.n_arms,), np.float32),
                  "gripper": gym.spaces.Box(0.0, inf, (self.n_arms,), np.float32)}
        if self.config.render_images:
            rig = self.world.rig
            spaces.update(left_rgb=gym.spaces.Box(0, 255, (h, w, 3), np.uint8),
                          right_rgb=gym.spaces.Box(0, 255, (h, w, 3), np.uint8),
                          depth=gym.spaces.Box(rig.near, rig.far, (h, w), np.float32),
                          seg=gym.spaces.Box(-1, SEG_MAX, (h, w), np.int32))
        wh, ww = self.config.wrist_image_size
        for name in self.wrist_cameras:
            spaces[f"wrist_rgb_{name}"] = gym.spaces.Box(0, 255, (wh, ww, 3), np.uint8)
        return gym.spaces.Dict(spaces)

    # --------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        scene = options.get("scene")
        if scene is not None:
            scene = scene if isinstance(scene, Scene) else load_scene(scene)
            if scene.robot.name != self.world.scene.robot.name:
                raise EnvConfigError(f"options.scene.robot.name: this env drives {self.world.scene.robot.name!r}, "
                                     f"got {scene.robot.name!r}")
            self._build(scene)
        self.world.restore_state(self._initial_state, clear_contacts=True)
        self.task.initialize_episode(self.np_random)
        self._steps = 0
        self._last_obs = self._observation(images=bool(options.get("observe", True)))
        return self._last_obs, self._info()

    def step(self, action, *, observe: bool = True):
        """The gym step; ``observe=False`` skips the cameras (the observation has only the joint
        and gripper readings), for a caller that will not use this step's images."""
        arm_q, grip = self._decode(action)
        self.world.command(arm_q, self.world.gripper_targets(grip))
        self.world.step(self.config.substeps)
        self.task.after_step()
        self._steps += 1
        self._last_obs = self._observation(images=observe)
        info = self._info()
        terminated = bool(info["success"])
        truncated = self._steps >= self.config.max_episode_steps
        return self._last_obs, float(terminated), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._last_obs is not None and "left_rgb" in self._last_obs:
            return self._last_obs["left_rgb"]
        return self.world.render()["left_rgb"]

    def close(self) -> None:
        if self.world is not None:
            self.world.close()
            self.world = None

    # ---------------------------------------------------------------- helpers
    def _info(self) -> dict:
        info = self.task.evaluate()
        info["success"] = bool(info["success"])
        info["renderer"] = self.world.renderer
        return info

    def _observation(self, images: bool = True) -> dict:
        q, qd = self.world.joint_states()
        obs = {"joint_pos": q.astype(np.float32), "joint_vel": qd.astype(np.float32),
               "ee_pose": np.concatenate([self.world.ee_pose(a, "base") for a in range(self.n_arms)]).astype(np.float32),
               "gripper": self.world.gripper_openings().astype(np.float32)}
        if not images:
            return obs
        if self.config.render_images:
            frames = self.world.render()
            rig = self.world.rig
            frames["depth"] = np.clip(frames["depth"], rig.near, rig.far).astype(np.float32)
            obs.update(frames)
        for name, cam in self.wrist_cameras.items():
            obs[f"wrist_rgb_{name}"] = cam.render(self.world.client)["rgb"]
        return obs

    def _decode(self, action) -> tuple[np.ndarray, np.ndarray]:
        try:
            action = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ActionError(f"action: not a numeric vector: {exc}") from exc
        if action.shape != self.action_space.shape:
            raise ActionError(f"action: expected shape {self.action_space.shape} ({self.config.action_mode} mode), "
                              f"got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ActionError(f"action: NaN/inf at indices {np.flatnonzero(~np.isfinite(action)).tolist()}")
        grip = np.clip(action[-self.n_arms:], 0.0, 1.0)
        if self.config.action_mode == "joint":
            return action[:-self.n_arms], grip
        poses = action[:-self.n_arms].reshape(self.n_arms, 7)
        q, _ = self.world.joint_states()
        return self.solve_ik(poses, q), grip

    def solve_ik(self, base_poses: np.ndarray, q_current: np.ndarray) -> np.ndarray:
        """Arm joint targets (all arms) for per-arm ee poses in the base frame; unreachable poses
        give the best joints found."""
        from .skills.ik import UnreachablePoseError, solve_ik

        spec = self.spec_robot
        index = {j: i for i, j in enumerate(spec.arm_joints)}
        q_out = np.array(q_current, float)
        for arm, pose in zip(spec.arms, base_poses):
            norm = np.linalg.norm(pose[3:])
            if norm < QUAT_MIN_NORM:
                raise ActionError(f"action: ee quaternion of arm {arm.name or 0!r} has zero norm")
            pose = np.concatenate([pose[:3], pose[3:] / norm])
            cols = [index[j] for j in arm.joints]
            try:
                q_arm = solve_ik(spec, pose, arm=arm.name, q_current=q_out[cols]).q
            except UnreachablePoseError as exc:
                q_arm = exc.best_q
            q_out[cols] = q_arm
        return q_out

    def world_to_base(self, pose_world) -> np.ndarray:
        return matrix_to_pose(np.linalg.inv(self.world.base_matrix()) @ pose_to_matrix(np.asarray(pose_world, float)))

    def oracle_actions(self) -> list[np.ndarray]:
        """Joint-mode actions that follow the task's scripted key poses from the current state:
        per control step, the ee targets move on straight lines (position) and slerps (orientation)
        between key poses, solved with IK seeded by the previous step's joints."""
        q, _ = self.world.joint_states()
        prev = [self.world.ee_pose(a) for a in range(self.n_arms)]
        actions = []
        for wp in self.task.oracle():
            for k in range(1, wp.steps + 1):
                alpha = k / wp.steps
                poses = [self.world_to_base(_interpolate_pose(a, b, alpha)) for a, b in zip(prev, wp.ee_poses)]
                q = self.solve_ik(np.stack(poses), q)
                actions.append(np.concatenate([q, np.asarray(wp.gripper, float)]).astype(np.float32))
            prev = [np.asarray(p, float) for p in wp.ee_poses]
        return actions


def _interpolate_pose(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """Linear position, spherical-linear orientation between 7-vector poses."""
    qa, qb = np.asarray(a[3:], float), np.asarray(b[3:], float)
    dot = float(qa @ qb)
    if dot < 0.0:
        qb, dot = -qb, -dot
    theta = math.acos(min(dot, 1.0))
    if theta < 1e-6:
        quat = qb
    else:
        quat = (math.sin((1.0 - alpha) * theta) * qa + math.sin(alpha * theta) * qb) / math.sin(theta)
    return np.concatenate([(1.0 - alpha) * np.asarray(a[:3]) + alpha * np.asarray(b[:3]), quat / np.linalg.norm(quat)])


def _register() -> None:
    for task, cls in TASKS.items():
        for robot in cls.robots:
            env_id = f"DexSim/{''.join(w.title() for w in task.split('_'))}-{robot}-v0"
            if env_id not in gym.registry:
                gym.register(env_id, entry_point="dexsim_sim.env:DexSimEnv", kwargs={"task": task, "robot": robot})


_register()
__all__ = ["DexSimEnv", "EnvConfig", "ActionError", "EnvConfigError", "TASKS"]
