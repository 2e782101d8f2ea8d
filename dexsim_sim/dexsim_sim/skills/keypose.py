"""Keypose skills: end-effector key poses expressed in the frames of the objects they act on.

A :class:`KeyposeSkill` is a list of :class:`Keypose` (per arm: an anchor object, an ee pose in that
object's *scale-normalised* base frame, a gripper closure, and how many control steps it takes).
Because the poses live in object frames, a skill captured once (the seed skill) is re-targeted to
any episode: after SA domain randomization moved, rotated or rescaled an object, :meth:`retarget`
gives the new world-frame key poses (positions in the anchor frame scale with the object's size).

:func:`plan_joint_actions` turns key poses into per-control-step joint targets:
- each key pose is solved with IK (seeded by the previous solution);
- *transit* key poses (``contact=False``, e.g. home -> pre-grasp) are reached by a joint-space
  path: the straight interpolation when it is collision-free against the table, objects and
  distractors, else an RRT-Connect re-plan (``skills.planner``), time-parameterised within
  a fraction of the joint velocity limits (``skills.interpolation``);
- *contact* key poses (approach, close, lift, lid swing, carry, place) follow straight lines
  (positions) and slerps (orientations) in Cartesian space, IK per control step;
- the whole plan is then slowed where its 10 Hz steps exceed ``PLAN_VELOCITY_FRACTION`` of the
  URDF velocity or ``PLAN_ACCELERATION`` (``interpolation.retime_steps``: the same path, longer):
  demonstrations a deployed policy imitates stay inside the limits its safety filter enforces.
Parallel-jaw symmetry: an ee pose turned by pi about its approach axis grips the same way; per arm
the variant nearest the current ee orientation is used (least wrist rotation).

Failures raise :class:`SkillError` with a ``reason`` from :data:`FAILURE_REASONS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import pybullet as p

from ..robots.transforms import matrix_to_pose, pose_to_matrix, rotation_angle, rot_x
from .ik import IKConfig, UnreachablePoseError, solve_ik
from .interpolation import TrajectoryError, retime_steps, sample_steps, time_parameterize
from .planner import CollisionChecker, PlannerConfig, PlanningError, plan_path

FAILURE_REASONS = ("unreachable", "planning_failed", "physics_failed", "invalid_input")
TRANSIT_VELOCITY_FRACTION = 0.5      # of each joint's URDF velocity limit
TRANSIT_ACCELERATION = 2.0           # rad/s^2 on transit segments
# Every planned step (contact segments and where key poses meet included) keeps these, so a policy
# that imitates the plan is not cut by the deployment's safety filter (dexsim_policy.commander:
# 10 rad/s^2, the URDF velocities): 70 % of the filter's acceleration, half the URDF velocity.
PLAN_VELOCITY_FRACTION = 0.5         # of each joint's URDF velocity limit
PLAN_ACCELERATION = 7.0              # rad/s^2, finite differences of the 10 Hz targets
GOAL_ALTERNATIVES = 4                # other IK branches tried when a transit goal is in collision
SKILL_FORMAT = "dexsim-keypose-skill"
FLIP = rot_x(math.pi)                # ee turned by pi about its approach axis (+x)


class SkillError(RuntimeError):
    """A skill that cannot be executed; ``reason`` is one of FAILURE_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in FAILURE_REASONS:
            raise ValueError(f"SkillError.reason: expected one of {FAILURE_REASONS}, got {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class Keypose:
    """Per arm: ``anchors`` (object names), ``poses`` (ee 7-vectors in the anchor's scale-normalised
    base frame: positions divided by the anchor's scale), ``gripper`` closures (0 open, 1 closed);
    ``steps`` control steps to reach it (at least); ``contact`` see the module doc."""

    anchors: tuple[str, ...]
    poses: tuple[tuple[float, ...], ...]
    gripper: tuple[float, ...]
    steps: int
    contact: bool
    label: str = ""

    def __post_init__(self) -> None:
        n = len(self.anchors)
        if n < 1 or len(self.poses) != n or len(self.gripper) != n:
            raise SkillError("invalid_input", f"Keypose {self.label!r}: anchors/poses/gripper lengths "
                                              f"{len(self.anchors)}/{len(self.poses)}/{len(self.gripper)} differ")
        for pose in self.poses:
            if len(pose) != 7 or not np.all(np.isfinite(pose)):
                raise SkillError("invalid_input", f"Keypose {self.label!r}.poses: expected finite 7-vectors, got {pose}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise SkillError("invalid_input", f"Keypose {self.label!r}.steps: expected an int >= 1, got {self.steps!r}")


@dataclass(frozen=True)
class KeyposeSkill:
    """A seed skill: key poses in object frames (see module doc)."""

    task: str
    keyposes: tuple[Keypose, ...]

    def __post_init__(self) -> None:
        if not self.keyposes:
            raise SkillError("invalid_input", "KeyposeSkill.keyposes: empty")
        arms = {len(k.anchors) for k in self.keyposes}
        if len(arms) != 1:
            raise SkillError("invalid_input", f"KeyposeSkill.keyposes: differing arm counts {sorted(arms)}")

    @property
    def n_arms(self) -> int:
        return len(self.keyposes[0].anchors)

    def to_dict(self) -> dict[str, Any]:
        return {"format": SKILL_FORMAT, "version": 1, "task": self.task,
                "keyposes": [{"anchors": list(k.anchors), "poses": [list(v) for v in k.poses],
                              "gripper": list(k.gripper), "steps": k.steps, "contact": k.contact, "label": k.label}
                             for k in self.keyposes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "KeyposeSkill":
        if not isinstance(d, dict) or d.get("format") != SKILL_FORMAT:
            raise SkillError("invalid_input", f"format: expected {SKILL_FORMAT!r}")
        return cls(str(d["task"]), tuple(Keypose(tuple(k["anchors"]), tuple(tuple(map(float, v)) for v in k["poses"]),
                                                 tuple(map(float, k["gripper"])), int(k["steps"]), bool(k["contact"]),
                                                 str(k.get("label", ""))) for k in d["keyposes"]))

    @classmethod
    def from_world_poses(cls, world, task: str, labels: Sequence[str], anchors: Sequence[Sequence[str]],
                         world_poses: Sequence[Sequence[np.ndarray]], gripper: Sequence[Sequence[float]],
                         steps: Sequence[int], contact: Sequence[bool]) -> "KeyposeSkill":
        """Express world-frame key poses in the current frames (and scales) of their anchor objects."""
        kps = []
        for label, anc, poses, grip, k, c in zip(labels, anchors, world_poses, gripper, steps, contact):
            local = []
            for name, pose in zip(anc, poses):
                rel = np.linalg.inv(pose_to_matrix(world.object_pose(name))) @ pose_to_matrix(np.asarray(pose, float))
                rel[:3, 3] /= np.asarray(world.object(name).scale, float)
                local.append(tuple(float(v) for v in matrix_to_pose(rel)))
            kps.append(Keypose(tuple(anc), tuple(local), tuple(float(g) for g in grip), int(k), bool(c), label))
        return cls(task, tuple(kps))

    def retarget(self, world) -> list[list[np.ndarray]]:
        """World-frame 4x4 ee targets per key pose and arm for the objects' current poses and scales.

        Symmetry-aware: the object an arm acts on first may look the same turned about its z axis
        (:meth:`~dexsim_sim.world.assets.Asset.symmetry_turns`: a can continuously, a cube every
        90 degrees). Of the equivalent grasps, the one whose first key pose is nearest the arm's
        current ee orientation is used for every key pose anchored on that object, so two scenes that
        look the same get the same targets (unimodal labels). Then each arm's poses are flipped about
        the approach axis when that is nearer the current ee (the parallel jaw's own symmetry)."""
        firsts = {}                                  # arm -> (anchor object, index of its first key pose)
        for i, k in enumerate(self.keyposes):
            for arm, name in enumerate(k.anchors):
                firsts.setdefault(arm, (name, i))
        turn = {}                                    # (arm, anchor) -> 4x4 symmetry turn in the anchor frame
        for arm, (name, i) in firsts.items():
            current = pose_to_matrix(world.ee_pose(arm))[:3, :3]
            turn[(arm, name)] = symmetry_turn(world, name, self.keyposes[i].poses[arm], current)
        out = []
        for k in self.keyposes:
            row = []
            for arm, (name, pose) in enumerate(zip(k.anchors, k.poses)):
                rel = pose_to_matrix(np.asarray(pose, float))
                rel[:3, 3] *= np.asarray(world.object(name).scale, float)
                sym = turn.get((arm, name))
                row.append(pose_to_matrix(world.object_pose(name)) @ (rel if sym is None else sym @ rel))
            out.append(row)
        for arm in range(self.n_arms):
            current = pose_to_matrix(world.ee_pose(arm))[:3, :3]
            first = out[0][arm][:3, :3]
            if rotation_angle(first @ FLIP, current) < rotation_angle(first, current):
                for row in out:
                    row[arm] = row[arm].copy()
                    row[arm][:3, :3] = row[arm][:3, :3] @ FLIP
        return out


def symmetry_turn(world, name: str, pose7, current: np.ndarray) -> np.ndarray:
    """The 4x4 turn about object ``name``'s z axis (one of its symmetries) that brings the ee pose
    ``pose7`` (in the object's scale-normalised frame) nearest the world rotation ``current``.

    With R_o the object's and R_r the pose's rotation, the world rotation R_o Rz(d) R_r is nearest
    ``current`` where trace(Rz(d) M) is largest, M = R_r current^T R_o; for continuous symmetry that
    is d = atan2(M01 - M10, M00 + M11), for n-fold the best of d = 2 pi k / n."""
    handle = world.object(name)
    turns = handle.asset.symmetry_turns(handle.scale)
    if turns == 1:
        return np.eye(4)
    m = pose_to_matrix(np.asarray(pose7, float))[:3, :3] @ current.T @ pose_to_matrix(world.object_pose(name))[:3, :3]
    if turns == 0:
        delta = math.atan2(m[0, 1] - m[1, 0], m[0, 0] + m[1, 1])
    else:
        score = lambda d: math.cos(d) * (m[0, 0] + m[1, 1]) + math.sin(d) * (m[0, 1] - m[1, 0])  # noqa: E731
        delta = max((2.0 * math.pi * k / turns for k in range(turns)), key=score)
    return rot_z4(delta)


def rot_z4(angle: float) -> np.ndarray:
    """4x4 rotation by ``angle`` rad about z."""
    tf = np.eye(4)
    c, s = math.cos(angle), math.sin(angle)
    tf[:2, :2] = [[c, -s], [s, c]]
    return tf


# ------------------------------------------------------------- seed skills per task

def _waypoint_skill(task, labels: Sequence[str], anchors_of) -> KeyposeSkill:
    waypoints = task.oracle()
    if len(labels) != len(waypoints):
        raise SkillError("invalid_input", f"task {task.name!r}: {len(waypoints)} oracle key poses, "
                                          f"{len(labels)} labels")
    return KeyposeSkill.from_world_poses(
        task.world, task.name, labels, [anchors_of(i) for i in range(len(waypoints))],
        [wp.ee_poses for wp in waypoints], [wp.gripper for wp in waypoints], [wp.steps for wp in waypoints],
        [i > 0 for i in range(len(waypoints))])


def skill_for_task(task) -> KeyposeSkill:
    """The seed skill of a loaded, reset task, captured from its scripted key poses in object frames:
    grasp: pre-grasp, grasp, close, lift, hold (target frame); open_box: above the lid edge, under it,
    then the push-lift arc about the hinge and the retreat (box frame, labels lid_<i>); rearrange: per arm above, grasp, close, lift (object
    frame), carry, place, open, up (region frame). The first key pose is transit, the rest contact."""
    name = getattr(task, "name", "")
    if name == "grasp":
        return _waypoint_skill(task, ("pre_grasp", "grasp", "close", "lift", "hold"), lambda i: (task.target,))
    if name == "open_box":
        labels = [f"lid_{i}" for i in range(len(task.oracle()))]
        return _waypoint_skill(task, labels, lambda i: (task.box,))
    if name == "rearrange":
        by_arm = {arm: (obj, region) for obj, region, arm in task.pairs}
        labels = ("above", "grasp", "close", "lift", "carry", "place", "open", "up")
        return _waypoint_skill(task, labels, lambda i: tuple(by_arm[a][0 if i < 4 else 1] for a in sorted(by_arm)))
    raise SkillError("invalid_input", f"task: no keypose skill for {name!r} (have grasp, open_box, rearrange)")


# ------------------------------------------------------------------ planning

@dataclass(frozen=True)
class JointPlan:
    """Per control step: arm joint targets ``q`` (T, n) in spec.arm_joints order, gripper closure per
    arm (T, n_arms); ``replanned``: an RRT-Connect search replaced a colliding straight segment."""

    q: np.ndarray
    gripper: np.ndarray
    replanned: bool

    def __post_init__(self) -> None:
        if self.q.ndim != 2 or self.gripper.ndim != 2 or len(self.q) != len(self.gripper) or len(self.q) == 0:
            raise SkillError("invalid_input", f"JointPlan: q {self.q.shape} and gripper {self.gripper.shape} "
                                              "must be (T, n) and (T, arms) with T >= 1")


@dataclass(frozen=True)
class PlanConfig:
    control_hz: float = 10.0
    ik: IKConfig = IKConfig()
    planner: PlannerConfig = PlannerConfig(timeout_s=2.0)
    transit_velocity_fraction: float = TRANSIT_VELOCITY_FRACTION
    transit_acceleration: float = TRANSIT_ACCELERATION   # rad/s^2
    velocity_fraction: float = PLAN_VELOCITY_FRACTION    # every step, of the URDF limit
    max_acceleration: float = PLAN_ACCELERATION          # rad/s^2, every step

    def __post_init__(self) -> None:
        for key in ("control_hz", "transit_velocity_fraction", "transit_acceleration", "velocity_fraction",
                    "max_acceleration"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"PlanConfig.{key}: must be a positive number, got {v!r}")


def slerp_pose(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """4x4 pose a fraction ``alpha`` from ``a`` to ``b``: linear position, spherical orientation."""
    pa, pb = matrix_to_pose(a), matrix_to_pose(b)
    qa, qb = pa[3:], pb[3:]
    dot = float(qa @ qb)
    if dot < 0.0:
        qb, dot = -qb, -dot
    theta = math.acos(min(dot, 1.0))
    quat = qb if theta < 1e-9 else (math.sin((1 - alpha) * theta) * qa + math.sin(alpha * theta) * qb) / math.sin(theta)
    return pose_to_matrix(np.concatenate([(1 - alpha) * pa[:3] + alpha * pb[:3], quat / np.linalg.norm(quat)]))


class _Solver:
    """IK of all arms (world-frame targets) on the robot's full arm-joint vector."""

    def __init__(self, world, config: PlanConfig) -> None:
        self.world = world
        self.spec = world.robot.spec
        self.config = config
        self.base_inv = np.linalg.inv(world.base_matrix())
        index = {j: i for i, j in enumerate(self.spec.arm_joints)}
        self.cols = [[index[j] for j in arm.joints] for arm in self.spec.arms]

    def solve(self, targets: Sequence[np.ndarray], q_seed: np.ndarray, label: str,
              alternative: int = 0) -> np.ndarray:
        """Joints reaching ``targets``; ``alternative`` k > 0 ignores the seed and draws IK seeds from
        stream k (another solution branch)."""
        q = np.array(q_seed, float)
        config = self.config.ik if alternative == 0 else replace(self.config.ik, seed=self.config.ik.seed + alternative)
        for arm, cols, target in zip(self.spec.arms, self.cols, targets):
            try:
                q[cols] = solve_ik(self.spec, self.base_inv @ target, arm=arm.name,
                                   q_current=q[cols] if alternative == 0 else None, config=config).q
            except UnreachablePoseError as exc:
                raise SkillError("unreachable", f"key pose {label!r} arm {arm.name or 0!r}: {exc}") from None
        return q


def _transit(world, solver: _Solver, q_from: np.ndarray, targets: Sequence[np.ndarray], steps: int,
             config: PlanConfig, obstacles: Sequence[int], label: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Joint targets per control step to the key pose ``targets``, its goal joints, whether RRT ran."""
    spec = world.robot.spec
    checker = CollisionChecker(world.client, world.robot.body, world.robot.arm_indices, obstacles)
    state = world.save_state()
    try:
        q_to = solver.solve(targets, q_from, label)
        for k in range(1, GOAL_ALTERNATIVES + 1):
            if not checker.in_collision(q_to):
                break
            try:
                q_to = solver.solve(targets, q_from, label, alternative=k)
            except SkillError:
                continue
        result = plan_path(checker, q_from, q_to, config.planner)
    except PlanningError as exc:
        raise SkillError("planning_failed", f"transit to {label!r}: {exc}") from None
    finally:
        world.restore_state(state)
        p.removeState(state, physicsClientId=world.client)
    vmax = np.array([spec.limits[j].velocity for j in spec.arm_joints]) * config.transit_velocity_fraction
    traj = time_parameterize(result.path, vmax, config.transit_acceleration, config.control_hz)
    q = traj.positions[1:] if len(traj.positions) > 1 else traj.positions
    if len(q) < steps:
        q = np.vstack([q, np.repeat(q[-1:], steps - len(q), axis=0)])
    return q, q_to, not result.straight_line


def plan_joint_actions(world, skill: KeyposeSkill, config: PlanConfig = PlanConfig(),
                       obstacles: Sequence[int] | None = None) -> JointPlan:
    """Joint targets per control step that execute ``skill`` from the world's current state.

    ``obstacles``: body ids the transit segments avoid (default: table and every object).
    """
    if skill.n_arms != len(world.robot.spec.arms):
        raise SkillError("invalid_input", f"skill has {skill.n_arms} arm(s), robot {world.robot.spec.name} "
                                          f"has {len(world.robot.spec.arms)}")
    if obstacles is None:
        obstacles = [world.table] + [h.body for h in world.objects.values()]
    solver = _Solver(world, config)
    targets = skill.retarget(world)
    q_prev, _ = world.joint_states()
    q_start = np.array(q_prev, float)
    prev_targets = [pose_to_matrix(world.ee_pose(a)) for a in range(skill.n_arms)]
    qs, grips, replanned = [], [], False
    for k, row in zip(skill.keyposes, targets):
        if k.contact:
            seg = []
            for i in range(1, k.steps + 1):
                alpha = i / k.steps
                q_prev = solver.solve([slerp_pose(a, b, alpha) for a, b in zip(prev_targets, row)], q_prev, k.label)
                seg.append(q_prev)
            seg = np.array(seg)
        else:
            seg, q_prev, used_rrt = _transit(world, solver, q_prev, row, k.steps, config, obstacles, k.label)
            replanned = replanned or used_rrt
        qs.append(seg)
        grips.append(np.repeat(np.asarray(k.gripper, float)[None], len(seg), axis=0))
        prev_targets = row
    return _within_limits(world, q_start, np.vstack(qs), np.vstack(grips), replanned, config)


def _within_limits(world, q_start: np.ndarray, q: np.ndarray, grip: np.ndarray, replanned: bool,
                   config: PlanConfig) -> JointPlan:
    """The plan slowed down where its 10 Hz steps exceed the planning limits (same path; a sample on
    the way to step k carries step k's gripper command)."""
    spec = world.robot.spec
    vmax = np.array([spec.limits[j].velocity for j in spec.arm_joints]) * config.velocity_fraction
    try:
        index = retime_steps(q_start, q, vmax, config.max_acceleration, 1.0 / config.control_hz)
    except TrajectoryError as exc:
        raise SkillError("planning_failed", f"timing within the joint limits: {exc}") from None
    if len(index) == len(q):
        return JointPlan(q, grip, replanned)
    return JointPlan(sample_steps(q_start, q, index), grip[np.clip(np.ceil(index - 1e-9).astype(int), 0, None)],
                     replanned)
