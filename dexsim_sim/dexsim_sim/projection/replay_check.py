"""Replay a retargeted demonstration (:class:`~.retarget.KeyposeSequence`) in :class:`DexSimEnv`:
the check that a projected skill works in the simulator.

The dense end-effector path between two keyposes (default: approach -> place, the part that
carries the object) is resampled at the env's control rate; the robot first moves from where it
is to the first pose in ``transit_steps`` Cartesian steps; at the open -> closed switch it holds
``grasp_hold_steps`` extra steps so the fingers close before the lift; every pose is solved with
the env's IK (seeded by the previous solution) and sent as a joint-mode action with the gripper
closure (1 closed, 0 open). The replay stops early once the task reports success.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..robots.transforms import matrix_to_pose, pose_to_matrix, rot_x, rotation_angle
from ..skills.keypose import slerp_pose
from .retarget import KeyposeSequence, RetargetError


# A parallel-jaw grasp turned by pi about the approach axis (gripper x) grips the same way.
JAW_FLIP = rot_x(np.pi)


class ReplayError(ValueError):
    """The env or the keyposes cannot be replayed as asked."""


@dataclass(frozen=True)
class ReplayConfig:
    start_label: str = "approach"
    end_label: str = "place"
    transit_steps: int = 12            # control steps from the current ee pose to the first pose
    grasp_hold_steps: int = 5          # extra control steps at the grasp while the fingers close
    end_hold_steps: int = 5            # control steps holding the last pose

    def __post_init__(self) -> None:
        for name in ("transit_steps", "grasp_hold_steps", "end_hold_steps"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"ReplayConfig.{name}: must be an int >= 0, got {value!r}")


@dataclass
class ReplayResult:
    success: bool
    steps: int
    info: dict                         # the task's last evaluate() dict
    ee_tracking_error_m: float         # worst distance between commanded and reached ee position


def resample_path(seq: KeyposeSequence, control_hz: float, config: ReplayConfig = ReplayConfig()
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Base-frame ee poses ``(N, 7)`` and gripper closures ``(N,)`` at ``control_hz`` between the
    two configured keyposes, with the grasp and end holds inserted."""
    for label in (config.start_label, config.end_label):
        if label not in seq.labels:
            raise ReplayError(f"keyposes: no {label!r} keypose (have {seq.labels})")
    first = int(seq.dense_frames[0])
    i0 = seq.frames[seq.labels.index(config.start_label)] - first
    i1 = seq.frames[seq.labels.index(config.end_label)] - first
    if i1 <= i0:
        raise ReplayError(f"keyposes: {config.end_label!r} (frame {i1 + first}) is not after "
                          f"{config.start_label!r} (frame {i0 + first})")
    times = seq.dense_times[i0:i1 + 1]
    sample_t = np.arange(times[0], times[-1] + 1e-9, 1.0 / control_hz)
    idx = i0 + np.clip(np.searchsorted(times, sample_t), 0, len(times) - 1)
    poses, closed = [], []
    for i in idx:
        if seq.dense_closed[i] and (not closed or not closed[-1]):
            poses += [seq.dense_poses[i]] * config.grasp_hold_steps
            closed += [True] * config.grasp_hold_steps
        poses.append(seq.dense_poses[i])
        closed.append(bool(seq.dense_closed[i]))
    poses += [poses[-1]] * config.end_hold_steps
    closed += [closed[-1]] * config.end_hold_steps
    return np.asarray(poses, float), np.asarray(closed, float)


def replay_in_env(env, seq: KeyposeSequence, config: ReplayConfig = ReplayConfig()) -> ReplayResult:
    """Drive a reset single-arm ``DexSimEnv`` (action_mode "joint") along the demonstration."""
    if env.config.action_mode != "joint":
        raise ReplayError(f"env.action_mode: replay sends joint actions, got {env.config.action_mode!r}")
    if env.n_arms != 1:
        raise ReplayError(f"env: replay drives one arm, the robot has {env.n_arms}")
    if not np.all(np.isfinite(seq.dense_poses)):
        raise RetargetError("keyposes: dense poses contain NaN or inf")
    poses, closure = resample_path(seq, env.config.control_hz, config)
    start = pose_to_matrix(env.world.ee_pose(0, "base"))
    poses = _nearest_jaw_variant(poses, start[:3, :3])
    transit = [matrix_to_pose(slerp_pose(start, pose_to_matrix(poses[0]), (k + 1) / config.transit_steps))
               for k in range(config.transit_steps)]
    targets = np.concatenate([np.asarray(transit).reshape(-1, 7), poses])
    grips = np.concatenate([np.full(len(transit), closure[0]), closure])
    q, _ = env.world.joint_states()
    info, worst, steps = {"success": False}, 0.0, 0
    for pose, grip in zip(targets, grips):
        q = env.solve_ik(pose[None], q)
        _, _, terminated, truncated, info = env.step(np.concatenate([q, [grip]]).astype(np.float32))
        steps += 1
        worst = max(worst, float(np.linalg.norm(env.world.ee_pose(0, "base")[:3] - pose[:3])))
        if terminated or truncated:
            break
    return ReplayResult(bool(info["success"]), steps, info, worst)


def _nearest_jaw_variant(poses: np.ndarray, current_rot: np.ndarray) -> np.ndarray:
    """The path as given or turned by pi about the gripper's approach axis, whichever starts
    nearer the current ee orientation (least wrist rotation)."""
    first = pose_to_matrix(poses[0])[:3, :3]
    if rotation_angle(first @ JAW_FLIP, current_rot) >= rotation_angle(first, current_rot):
        return poses
    out = []
    for pose in poses:
        tf = pose_to_matrix(pose)
        tf[:3, :3] = tf[:3, :3] @ JAW_FLIP
        out.append(matrix_to_pose(tf))
    return np.asarray(out)
