"""Seed skills from demonstrations: replay a tele-operated joint trajectory, or turn end-effector
key poses (e.g. Real2Sim retargeting's ``KeyposeSequence``) into an object-frame :class:`KeyposeSkill`.

A joint trajectory is validated (shape, finite, within joint limits) and resampled to the control
rate; it is replayed as is (no re-targeting: a joint trajectory has no object frame).
Key poses are expressed in the frame of an anchor object at demonstration time, so SA domain
randomization re-targets them like any keypose skill. Where the gripper state changes at a key
pose, the robot first reaches the pose with the previous state, then switches it in place over
``gripper_steps`` control steps.
"""
from __future__ import annotations

import numpy as np

from ..robots.transforms import matrix_to_pose, pose_to_matrix
from .keypose import JointPlan, KeyposeSkill, SkillError

LIMIT_TOLERANCE = 1e-6      # rad beyond a joint limit still accepted (then clipped)
GRIPPER_STEPS = 6           # control steps to close or open the gripper in place
MIN_SEGMENT_STEPS = 3       # control steps per key pose at least


def replay_joint_trajectory(world, q, gripper=None, times=None, control_hz: float = 10.0) -> JointPlan:
    """A :class:`JointPlan` from joint positions ``q`` (T, n) in ``spec.arm_joints`` order, gripper
    closures (T, arms) or (T,) (default open) and sample ``times`` (T,) s (default: already at
    ``control_hz``); resampled by linear interpolation to ``control_hz``."""
    spec = world.robot.spec
    q = np.asarray(q, float)
    n_arms = len(spec.arms)
    if q.ndim != 2 or q.shape[1] != len(spec.arm_joints) or len(q) < 1:
        raise SkillError("invalid_input", f"q: expected (T, {len(spec.arm_joints)}), got {q.shape}")
    grip = np.zeros((len(q), n_arms)) if gripper is None else np.asarray(gripper, float).reshape(len(q), -1)
    if grip.shape[1] != n_arms:
        raise SkillError("invalid_input", f"gripper: expected (T, {n_arms}), got {grip.shape}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(grip))):
        raise SkillError("invalid_input", "q/gripper: NaN or inf values")
    lower = np.array([spec.limits[j].lower for j in spec.arm_joints])
    upper = np.array([spec.limits[j].upper for j in spec.arm_joints])
    bad = np.flatnonzero(np.any((q < lower - LIMIT_TOLERANCE) | (q > upper + LIMIT_TOLERANCE), axis=0))
    if bad.size:
        raise SkillError("invalid_input", f"q: joints {[spec.arm_joints[i] for i in bad]} leave their limits")
    if times is not None:
        times = np.asarray(times, float)
        if times.shape != (len(q),) or np.any(np.diff(times) <= 0):
            raise SkillError("invalid_input", f"times: expected {len(q)} increasing values, got shape {times.shape}")
        grid = np.arange(times[0], times[-1] + 1e-9, 1.0 / control_hz)[1:]
        grid = grid if len(grid) else times[-1:]
        q = np.stack([np.interp(grid, times, q[:, j]) for j in range(q.shape[1])], axis=1)
        grip = np.stack([np.interp(grid, times, grip[:, a]) for a in range(n_arms)], axis=1)
    return JointPlan(np.clip(q, lower, upper), np.clip(grip, 0.0, 1.0), False)


def skill_from_keyposes(world, sequence, anchor: str, task: str = "", control_hz: float = 10.0,
                        gripper_steps: int = GRIPPER_STEPS) -> KeyposeSkill:
    """An object-frame skill of one arm from a key-pose sequence (``labels``, ``times`` s, ``poses``
    (K, 7) in the robot base frame, ``openings`` (K,) m) anchored to object ``anchor`` as it is now."""
    spec = world.robot.spec
    poses = np.asarray(sequence.poses, float)
    openings = np.asarray(sequence.openings, float)
    times = np.asarray(sequence.times, float)
    if poses.ndim != 2 or poses.shape[1] != 7 or len(poses) < 1 or openings.shape != (len(poses),):
        raise SkillError("invalid_input", f"sequence: poses {poses.shape} and openings {openings.shape} disagree")
    world.object(anchor)
    base = world.base_matrix()
    world_poses = [matrix_to_pose(base @ pose_to_matrix(pose)) for pose in poses]
    closed = (openings < (spec.gripper_open + spec.gripper_closed) / 2.0).astype(float)
    labels, anchors, wposes, grips, steps, contact = [], [], [], [], [], []
    state = 0.0
    for i, (label, pose, grip) in enumerate(zip(sequence.labels, world_poses, closed)):
        dt = times[i] - times[i - 1] if i > 0 else 0.0
        labels.append(label)
        anchors.append((anchor,))
        wposes.append((pose,))
        grips.append((state,))
        steps.append(max(MIN_SEGMENT_STEPS, int(round(dt * control_hz))))
        contact.append(i > 0)
        if grip != state:
            state = float(grip)
            labels.append(f"{label}_{'close' if state else 'open'}")
            anchors.append((anchor,))
            wposes.append((pose,))
            grips.append((state,))
            steps.append(gripper_steps)
            contact.append(True)
    return KeyposeSkill.from_world_poses(world, task, labels, anchors, wposes, grips, steps, contact)
