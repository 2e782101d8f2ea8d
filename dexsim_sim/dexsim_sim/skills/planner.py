"""Collision-free joint-space paths: straight line if it is free, else OMPL RRT-Connect; PyBullet collision checks.

Seeding: OMPL's random generator is process-global and takes a seed only before its first
sample, so :func:`plan_path` seeds it (``PlannerConfig.seed``) on the first plan of the process;
later plans continue that stream, so a fixed sequence of plans is reproducible run to run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pybullet as p
from ompl import base as ob
from ompl import geometric as og
from ompl import util as ou

BASE_INDEX = -1   # PyBullet's link index of a body's base


class PlanningError(RuntimeError):
    """No path; ``reason`` is one of REASONS, ``detail`` says what collided or what timed out."""

    REASONS = ("start_in_collision", "goal_in_collision", "timeout", "invalid_input")

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"PlanningError.reason: expected one of {self.REASONS}, got {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class CollisionConfig:
    """``margin`` m: closer than this counts as a collision; ``ignore_hops``: self pairs at most this many
    movable joints apart in the kinematic tree are not checked (1 = adjacent links only; 2 also skips
    pairs joined through a zero-length link, whose primitive boxes overlap by construction)."""

    margin: float = 0.0
    ignore_hops: int = 2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ValueError(f"CollisionConfig.margin: must be >= 0 m, got {self.margin!r}")
        if not (isinstance(self.ignore_hops, int) and self.ignore_hops >= 1):
            raise ValueError(f"CollisionConfig.ignore_hops: must be an int >= 1, got {self.ignore_hops!r}")


class CollisionChecker:
    """Self- and obstacle-collision queries of one robot body in a PyBullet client.

    Sets the planned joints with ``resetJointState`` (other joints keep their values); links
    that no planned joint moves are skipped (they cannot change a plan). Restore the robot's
    state yourself after planning (``p.saveState``/``p.restoreState``) if the sim is running.
    """

    def __init__(self, client_id: int, body_id: int, joint_indices, obstacle_ids=(),
                 config: CollisionConfig = CollisionConfig()) -> None:
        self.client = client_id
        self.body = body_id
        self.joint_indices = tuple(int(j) for j in joint_indices)
        self.obstacle_ids = tuple(int(o) for o in obstacle_ids)
        self.config = config
        num = p.getNumJoints(body_id, physicsClientId=client_id)
        parent = {}
        movable_joint = {}
        self.link_names = {BASE_INDEX: p.getBodyInfo(body_id, physicsClientId=client_id)[0].decode()}
        for i in range(num):
            info = p.getJointInfo(body_id, i, physicsClientId=client_id)
            parent[i] = info[16]
            movable_joint[i] = info[2] != p.JOINT_FIXED
            self.link_names[i] = info[12].decode()
        bad = [j for j in self.joint_indices if j not in parent or not movable_joint[j]]
        if bad:
            raise PlanningError("invalid_input", f"joint_indices {bad} are not movable joints of body {body_id}")
        planned = set(self.joint_indices)

        def ancestors(link: int) -> list[int]:
            chain = []
            while link != BASE_INDEX:
                chain.append(link)
                link = parent[link]
            return chain

        links = [BASE_INDEX] + list(range(num))
        self.moving_links = tuple(link for link in links if link != BASE_INDEX and planned & set(ancestors(link)))
        # Hops: the number of movable joints on the tree path between two links.
        def hops(a: int, b: int) -> int:
            path_a, path_b = ancestors(a), ancestors(b)
            common = set(path_a) & set(path_b)
            return sum(movable_joint[j] for j in path_a + path_b if j not in common)

        moving = set(self.moving_links)
        self.self_pairs = tuple((a, b) for i, a in enumerate(links) for b in links[i + 1:]
                                if (a in moving or b in moving) and hops(a, b) > config.ignore_hops)

    def set_configuration(self, q) -> None:
        for index, value in zip(self.joint_indices, q):
            p.resetJointState(self.body, index, float(value), physicsClientId=self.client)

    def colliding_pairs(self, q) -> list[tuple[str, str]]:
        """Names of the colliding (link, link) or (link, obstacle body) pairs at ``q``."""
        self.set_configuration(q)
        hits = []
        for a, b in self.self_pairs:
            if p.getClosestPoints(self.body, self.body, self.config.margin, a, b, physicsClientId=self.client):
                hits.append((self.link_names[a], self.link_names[b]))
        for obstacle in self.obstacle_ids:
            for point in p.getClosestPoints(self.body, obstacle, self.config.margin, physicsClientId=self.client):
                if point[3] in self.moving_links:
                    name = p.getBodyInfo(obstacle, physicsClientId=self.client)[1].decode()
                    hits.append((self.link_names[point[3]], f"body {obstacle} ({name})"))
        return sorted(set(hits))

    def in_collision(self, q) -> bool:
        self.set_configuration(q)
        for a, b in self.self_pairs:
            if p.getClosestPoints(self.body, self.body, self.config.margin, a, b, physicsClientId=self.client):
                return True
        for obstacle in self.obstacle_ids:
            for point in p.getClosestPoints(self.body, obstacle, self.config.margin, physicsClientId=self.client):
                if point[3] in self.moving_links:
                    return True
        return False

    def edge_free(self, qa, qb, resolution: float) -> bool:
        """Whether the straight joint-space segment is free, checked every ``resolution`` rad (max-norm)."""
        qa, qb = np.asarray(qa, dtype=float), np.asarray(qb, dtype=float)
        steps = max(1, int(math.ceil(np.max(np.abs(qb - qa)) / resolution)))
        return not any(self.in_collision(qa + (qb - qa) * k / steps) for k in range(steps + 1))


@dataclass(frozen=True)
class PlannerConfig:
    """``timeout_s`` of RRT-Connect; ``resolution`` rad between edge checks; ``seed`` for OMPL (see module doc)."""

    timeout_s: float = 5.0
    resolution: float = 0.02
    simplify: bool = True
    seed: int = 0
    lower: tuple[float, ...] = field(default=())   # joint bounds; empty = read from PyBullet
    upper: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("timeout_s", "resolution"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"PlannerConfig.{name}: must be a positive number, got {value!r}")
        if len(self.lower) != len(self.upper):
            raise ValueError(f"PlannerConfig.lower/upper: lengths differ ({len(self.lower)} vs {len(self.upper)})")


@dataclass(frozen=True)
class PlanResult:
    path: np.ndarray        # (K, n) waypoints, start and goal exact
    straight_line: bool     # True when the direct segment was free and no search ran


_OMPL_SEEDED = False


def _seed_ompl(seed: int) -> None:
    global _OMPL_SEEDED
    if not _OMPL_SEEDED:
        ou.setLogLevel(ou.LogLevel.LOG_WARN)
        ou.RNG.setSeed(int(seed))
        _OMPL_SEEDED = True


def _bounds(checker: CollisionChecker, config: PlannerConfig) -> tuple[np.ndarray, np.ndarray]:
    if config.lower:
        return np.asarray(config.lower, dtype=float), np.asarray(config.upper, dtype=float)
    infos = [p.getJointInfo(checker.body, j, physicsClientId=checker.client) for j in checker.joint_indices]
    lower = np.array([i[8] if i[8] < i[9] else -math.pi for i in infos])
    upper = np.array([i[9] if i[8] < i[9] else math.pi for i in infos])
    return lower, upper


def plan_path(checker: CollisionChecker, start, goal, config: PlannerConfig = PlannerConfig()) -> PlanResult:
    """A collision-free joint path from ``start`` to ``goal``; raises :class:`PlanningError`."""
    start = np.asarray(start, dtype=float)
    goal = np.asarray(goal, dtype=float)
    dof = len(checker.joint_indices)
    if start.shape != (dof,) or goal.shape != (dof,):
        raise PlanningError("invalid_input", f"start/goal: expected {dof} values, got {start.shape}, {goal.shape}")
    lower, upper = _bounds(checker, config)
    for label, q in (("start", start), ("goal", goal)):
        if np.any(q < lower - 1e-9) or np.any(q > upper + 1e-9):
            raise PlanningError("invalid_input", f"{label} {np.round(q, 4).tolist()} is outside the joint limits")
    hits = checker.colliding_pairs(start)
    if hits:
        raise PlanningError("start_in_collision", f"start in collision: {hits}")
    hits = checker.colliding_pairs(goal)
    if hits:
        raise PlanningError("goal_in_collision", f"goal in collision: {hits}")
    if checker.edge_free(start, goal, config.resolution):
        return PlanResult(np.stack([start, goal]), True)

    _seed_ompl(config.seed)
    space = ob.RealVectorStateSpace(dof)
    bounds = ob.RealVectorBounds(dof)
    for i in range(dof):
        bounds.setLow(i, float(lower[i]))
        bounds.setHigh(i, float(upper[i]))
    space.setBounds(bounds)
    setup = og.SimpleSetup(space)
    setup.setStateValidityChecker(lambda state: not checker.in_collision([state[i] for i in range(dof)]))
    info = setup.getSpaceInformation()
    info.setStateValidityCheckingResolution(config.resolution / space.getMaximumExtent())
    start_state, goal_state = space.allocState(), space.allocState()
    for i in range(dof):
        start_state[i], goal_state[i] = float(start[i]), float(goal[i])
    setup.setStartAndGoalStates(start_state, goal_state)
    setup.setPlanner(og.RRTConnect(info))
    solved = setup.solve(config.timeout_s)
    if not (solved and setup.haveExactSolutionPath()):
        raise PlanningError("timeout", f"RRT-Connect found no path within {config.timeout_s} s")
    if config.simplify:
        setup.simplifySolution()
    solution = setup.getSolutionPath()
    path = np.array([[solution.getState(k)[i] for i in range(dof)] for k in range(solution.getStateCount())])
    path[0], path[-1] = start, goal
    return PlanResult(path, False)
