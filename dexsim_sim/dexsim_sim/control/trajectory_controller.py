"""ROS-free joint trajectory controller with the semantics of ros2_control's joint_trajectory_controller.

One controller drives one arm. The owner (the sim node's simulation thread) calls :meth:`update`
once per control period with the measured joint state and sends the returned position targets to
the joints. Goals come in as plain :class:`TrajectoryGoal` values (built from
``control_msgs/FollowJointTrajectory`` by :mod:`dexsim_sim.ros.conversions`):

- :meth:`JointTrajectoryController.validate` checks a goal and returns a :class:`Trajectory` in the
  controller's joint order, or raises :class:`GoalRejected` carrying the FollowJointTrajectory
  ``error_code`` (INVALID_JOINTS, INVALID_GOAL, OLD_HEADER_TIMESTAMP) and a readable message;
- :meth:`start` makes it the active goal (an active goal is aborted: preemption);
- :meth:`update` samples the trajectory at the current time, checks path tolerances while it runs
  (PATH_TOLERANCE_VIOLATED) and goal tolerances after its end, within ``goal_time_tolerance``
  (GOAL_TOLERANCE_VIOLATED);
- :meth:`cancel` stops a goal and holds the measured position.

Tolerance semantics follow ``control_msgs/JointTolerance``: in a goal, a positive value is the
tolerance, 0 means "the controller default", a negative value means "not checked". In the config,
``None`` means "not checked". Times are seconds of the controller's clock (sim time in the sim).
Not thread-safe: the owner serialises calls (the sim node holds a lock).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..robots.registry import RobotSpec

# control_msgs/action/FollowJointTrajectory Result error codes.
SUCCESSFUL = 0
INVALID_GOAL = -1
INVALID_JOINTS = -2
OLD_HEADER_TIMESTAMP = -3
PATH_TOLERANCE_VIOLATED = -4
GOAL_TOLERANCE_VIOLATED = -5

VELOCITY_LIMIT_SLACK = 0.01   # relative: commanded/implied velocities may exceed the limit by 1 %
POSITION_LIMIT_SLACK = 1e-6   # rad (or m) beyond a position limit still accepted


class ControllerConfigError(ValueError):
    """A bad controller configuration value."""


class GoalRejected(ValueError):
    """A goal that cannot be executed; ``error_code`` is the FollowJointTrajectory result code."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


class UnknownGoalError(KeyError):
    """A goal id this controller never issued."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class GoalState(Enum):
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    ABORTED = "aborted"
    CANCELED = "canceled"


def _optional_positive(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ControllerConfigError(f"{name}: must be a positive number or None (not checked), got {value!r}")


@dataclass(frozen=True)
class TrajectoryControllerConfig:
    """Joints and limits of one arm, and the default tolerances (rad, rad/s, s; None = not checked)."""

    joints: tuple[str, ...]
    lower: tuple[float, ...]                      # rad
    upper: tuple[float, ...]                      # rad
    max_velocity: tuple[float, ...]               # rad/s
    path_position_tolerance: float | None = None  # rad, while the trajectory runs
    path_velocity_tolerance: float | None = None  # rad/s
    goal_position_tolerance: float | None = 0.02  # rad, at the end
    goal_velocity_tolerance: float | None = 0.05  # rad/s at the end ("stopped")
    goal_time_tolerance: float = 1.0              # s after the end to get within the goal tolerance

    def __post_init__(self) -> None:
        n = len(self.joints)
        if n == 0:
            raise ControllerConfigError("joints: need at least one joint")
        if len(set(self.joints)) != n:
            raise ControllerConfigError(f"joints: duplicate names in {list(self.joints)}")
        for key in ("lower", "upper", "max_velocity"):
            values = getattr(self, key)
            if len(values) != n or not all(math.isfinite(v) for v in values):
                raise ControllerConfigError(f"{key}: expected {n} finite numbers, got {list(values)}")
        for name, lo, hi, vel in zip(self.joints, self.lower, self.upper, self.max_velocity):
            if not lo < hi:
                raise ControllerConfigError(f"lower/upper: joint {name!r} needs lower < upper, got {lo} .. {hi}")
            if not vel > 0:
                raise ControllerConfigError(f"max_velocity: joint {name!r} needs > 0 rad/s, got {vel}")
        for key in ("path_position_tolerance", "path_velocity_tolerance", "goal_position_tolerance",
                    "goal_velocity_tolerance"):
            _optional_positive(key, getattr(self, key))
        if not (math.isfinite(self.goal_time_tolerance) and self.goal_time_tolerance >= 0):
            raise ControllerConfigError(f"goal_time_tolerance: must be >= 0 s, got {self.goal_time_tolerance!r}")

    @classmethod
    def from_robot(cls, robot: RobotSpec, arm: str = "", **tolerances) -> "TrajectoryControllerConfig":
        """Joints and URDF limits of one arm of a registry robot; ``tolerances`` override the defaults."""
        joints = robot.arm(arm).joints
        lim = [robot.limits[j] for j in joints]
        return cls(joints, tuple(x.lower for x in lim), tuple(x.upper for x in lim), tuple(x.velocity for x in lim),
                   **tolerances)


@dataclass(frozen=True)
class JointTolerance:
    """``control_msgs/JointTolerance``: > 0 the tolerance, 0 the default, < 0 not checked."""

    name: str
    position: float = 0.0
    velocity: float = 0.0
    acceleration: float = 0.0


@dataclass(frozen=True)
class TrajectoryPoint:
    """One point as received: vectors may have any length (validation checks them)."""

    time_from_start: float                 # s
    positions: tuple[float, ...]
    velocities: tuple[float, ...] = ()
    accelerations: tuple[float, ...] = ()


@dataclass(frozen=True)
class TrajectoryGoal:
    """A FollowJointTrajectory goal in plain values; ``header_stamp`` 0 means "start now"."""

    joint_names: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...]
    header_stamp: float = 0.0                            # s
    path_tolerance: tuple[JointTolerance, ...] = ()
    goal_tolerance: tuple[JointTolerance, ...] = ()
    goal_time_tolerance: float = 0.0                     # s, 0 = the controller default


@dataclass(frozen=True)
class Trajectory:
    """A validated trajectory in the controller's joint order (times (T,), vectors (T, n)).

    ``velocities``/``accelerations`` rows are NaN where a point gave none. Tolerances are per
    joint, ``inf`` where not checked.
    """

    start_time: float | None                 # s; None = when started
    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    accelerations: np.ndarray
    path_position_tolerance: np.ndarray
    path_velocity_tolerance: np.ndarray
    goal_position_tolerance: np.ndarray
    goal_velocity_tolerance: np.ndarray
    goal_time_tolerance: float

    @property
    def duration(self) -> float:
        return float(self.times[-1])


@dataclass(frozen=True)
class Sample:
    """The desired state at one time: positions, velocities, accelerations (n,)."""

    positions: np.ndarray
    velocities: np.ndarray
    accelerations: np.ndarray


def _hermite(p0, v0, a0, p1, v1, a1, T: float, t: float, order: int) -> Sample:
    """Polynomial segment of ``order`` 1 (linear), 3 (cubic) or 5 (quintic) over [0, T] at local time t."""
    s = t / T
    if order == 1:
        vel = (p1 - p0) / T
        return Sample(p0 + (p1 - p0) * s, vel, np.zeros_like(p0))
    if order == 3:
        c2 = (3.0 * (p1 - p0) - (2.0 * v0 + v1) * T) / T ** 2
        c3 = (2.0 * (p0 - p1) + (v0 + v1) * T) / T ** 3
        return Sample(p0 + v0 * t + c2 * t ** 2 + c3 * t ** 3, v0 + 2.0 * c2 * t + 3.0 * c3 * t ** 2,
                      2.0 * c2 + 6.0 * c3 * t)
    c3 = (20.0 * (p1 - p0) - (8.0 * v1 + 12.0 * v0) * T - (3.0 * a0 - a1) * T ** 2) / (2.0 * T ** 3)
    c4 = (30.0 * (p0 - p1) + (14.0 * v1 + 16.0 * v0) * T + (3.0 * a0 - 2.0 * a1) * T ** 2) / (2.0 * T ** 4)
    c5 = (12.0 * (p1 - p0) - 6.0 * (v1 + v0) * T - (a0 - a1) * T ** 2) / (2.0 * T ** 5)
    pos = p0 + v0 * t + 0.5 * a0 * t ** 2 + c3 * t ** 3 + c4 * t ** 4 + c5 * t ** 5
    vel = v0 + a0 * t + 3.0 * c3 * t ** 2 + 4.0 * c4 * t ** 3 + 5.0 * c5 * t ** 4
    acc = a0 + 6.0 * c3 * t + 12.0 * c4 * t ** 2 + 20.0 * c5 * t ** 3
    return Sample(pos, vel, acc)


def sample_trajectory(traj: Trajectory, t: float, start_positions: np.ndarray,
                      start_velocities: np.ndarray | None = None) -> Sample:
    """Desired state ``t`` s after the trajectory start.

    Before the first point (when its ``time_from_start`` > 0) the segment starts at the state the
    controller had when the goal started (``start_positions``/``start_velocities``). Between two
    points: quintic when both give velocities and accelerations, cubic when both give velocities,
    linear otherwise. Before 0: the start state; after the end: the last point, at rest.
    """
    n = traj.positions.shape[1]
    times, pos, vel, acc = traj.times, traj.positions, traj.velocities, traj.accelerations
    v_start = np.zeros(n) if start_velocities is None else np.asarray(start_velocities, float)
    if times[0] > 0.0:   # prepend the start state as a knot at t = 0
        times = np.concatenate([[0.0], times])
        pos = np.vstack([start_positions, pos])
        vel = np.vstack([np.where(np.isnan(vel[0]), np.nan, v_start), vel])
        acc = np.vstack([np.where(np.isnan(acc[0]), np.nan, 0.0), acc])
    if t <= times[0]:
        return Sample(pos[0].copy(), np.zeros(n), np.zeros(n))
    if t >= times[-1]:
        last_v = np.nan_to_num(vel[-1]) if len(times) > 1 else np.zeros(n)
        return Sample(pos[-1].copy(), last_v if t == times[-1] else np.zeros(n), np.zeros(n))
    k = int(np.searchsorted(times, t, side="right")) - 1
    T = float(times[k + 1] - times[k])
    has_v = not (np.isnan(vel[k]).any() or np.isnan(vel[k + 1]).any())
    has_a = has_v and not (np.isnan(acc[k]).any() or np.isnan(acc[k + 1]).any())
    order = 5 if has_a else 3 if has_v else 1
    return _hermite(pos[k], vel[k], acc[k], pos[k + 1], vel[k + 1], acc[k + 1], T, t - float(times[k]), order)


@dataclass(frozen=True)
class GoalStatus:
    """A snapshot of one goal: state, result code/message, and desired/actual/error at ``time``."""

    goal_id: int
    state: GoalState
    error_code: int
    error_string: str
    time: float                  # s, controller clock
    desired: Sample
    actual_positions: np.ndarray
    actual_velocities: np.ndarray

    @property
    def done(self) -> bool:
        return self.state is not GoalState.ACTIVE

    @property
    def position_error(self) -> np.ndarray:
        return self.desired.positions - self.actual_positions

    @property
    def velocity_error(self) -> np.ndarray:
        return self.desired.velocities - self.actual_velocities


@dataclass
class _Goal:
    goal_id: int
    trajectory: Trajectory
    start_time: float
    start_positions: np.ndarray
    start_velocities: np.ndarray
    status: GoalStatus = field(init=False)


class JointTrajectoryController:
    """Follows validated trajectories for one arm; holds position when idle."""

    def __init__(self, config: TrajectoryControllerConfig) -> None:
        self.config = config
        self._index = {name: i for i, name in enumerate(config.joints)}
        self._lower = np.asarray(config.lower, float)
        self._upper = np.asarray(config.upper, float)
        self._vmax = np.asarray(config.max_velocity, float)
        n = len(config.joints)
        self._q = np.zeros(n)
        self._qd = np.zeros(n)
        self._now = 0.0
        self._hold = np.zeros(n)
        self._goals: dict[int, _Goal] = {}
        self._active: int | None = None
        self._next_id = 1

    # ------------------------------------------------------------ properties
    @property
    def joints(self) -> tuple[str, ...]:
        return self.config.joints

    @property
    def active_goal(self) -> int | None:
        return self._active

    @property
    def hold_position(self) -> np.ndarray:
        return self._hold.copy()

    # -------------------------------------------------------------- set-up
    def reset(self, q, qd=None, now: float | None = None, reason: str = "controller reset") -> None:
        """Take the measured state as the hold position (e.g. after a teleport); an active goal is aborted."""
        self._measure(q, qd, now)
        self._finish_active(GoalState.ABORTED, INVALID_GOAL, reason)
        self._hold = self._q.copy()

    def _measure(self, q, qd, now) -> None:
        q = np.asarray(q, float)
        if q.shape != self._q.shape or not np.all(np.isfinite(q)):
            raise ControllerConfigError(f"q: expected {len(self._q)} finite joint positions, got {q.tolist()}")
        self._q = q.copy()
        self._qd = np.zeros_like(q) if qd is None else np.asarray(qd, float).copy()
        if now is not None:
            self._now = float(now)

    # ---------------------------------------------------------- validation
    def validate(self, goal: TrajectoryGoal, now: float) -> Trajectory:
        """The goal as a :class:`Trajectory` in controller joint order, or :class:`GoalRejected`."""
        n = len(self.joints)
        if not goal.points:
            raise GoalRejected(INVALID_GOAL, "empty trajectory: the goal has no points")
        names = list(goal.joint_names)
        dupes = sorted({j for j in names if names.count(j) > 1})
        if dupes:
            raise GoalRejected(INVALID_JOINTS, f"duplicate joint names in the goal: {dupes}")
        unknown = [j for j in names if j not in self._index]
        if unknown:
            raise GoalRejected(INVALID_JOINTS, f"unknown joints {unknown}; this controller drives {list(self.joints)}")
        missing = [j for j in self.joints if j not in names]
        if missing:
            raise GoalRejected(INVALID_JOINTS, f"the goal lacks joints {missing}; this controller needs all of "
                                               f"{list(self.joints)}")
        last_time = goal.points[-1].time_from_start
        if goal.header_stamp != 0.0 and math.isfinite(last_time) and goal.header_stamp + last_time < now:
            raise GoalRejected(OLD_HEADER_TIMESTAMP, f"the trajectory ends in the past: header.stamp "
                                                     f"{goal.header_stamp:.3f} s + {last_time:.3f} s < now {now:.3f} s")
        order = [names.index(j) for j in self.joints]   # goal column of each controller joint
        times = np.empty(len(goal.points))
        pos = np.empty((len(goal.points), n))
        vel = np.full((len(goal.points), n), np.nan)
        acc = np.full((len(goal.points), n), np.nan)
        for i, point in enumerate(goal.points):
            t = point.time_from_start
            if not math.isfinite(t) or t < 0.0:
                raise GoalRejected(INVALID_GOAL, f"points[{i}].time_from_start: must be a finite time >= 0 s, got {t}")
            if i > 0 and not t > times[i - 1]:
                raise GoalRejected(INVALID_GOAL, f"points[{i}].time_from_start: times must strictly increase, got "
                                                 f"{t} s after {times[i - 1]} s")
            times[i] = t
            for key, out, required in (("positions", pos, True), ("velocities", vel, False),
                                       ("accelerations", acc, False)):
                values = np.asarray(getattr(point, key), float)
                if values.size == 0 and not required:
                    continue
                if values.shape != (len(names),):
                    raise GoalRejected(INVALID_GOAL, f"points[{i}].{key}: expected {len(names)} values (one per "
                                                     f"joint name), got {values.size}")
                if not np.all(np.isfinite(values)):
                    raise GoalRejected(INVALID_GOAL, f"points[{i}].{key}: NaN or inf in {values.tolist()}")
                out[i] = values[order]
        self._check_limits(times, pos, vel)
        cfg = self.config
        return Trajectory(
            start_time=goal.header_stamp if goal.header_stamp != 0.0 else None, times=times, positions=pos,
            velocities=vel, accelerations=acc,
            path_position_tolerance=self._tolerances(goal.path_tolerance, "position", cfg.path_position_tolerance,
                                                     "path_tolerance"),
            path_velocity_tolerance=self._tolerances(goal.path_tolerance, "velocity", cfg.path_velocity_tolerance,
                                                     "path_tolerance"),
            goal_position_tolerance=self._tolerances(goal.goal_tolerance, "position", cfg.goal_position_tolerance,
                                                     "goal_tolerance"),
            goal_velocity_tolerance=self._tolerances(goal.goal_tolerance, "velocity", cfg.goal_velocity_tolerance,
                                                     "goal_tolerance"),
            goal_time_tolerance=self._goal_time(goal.goal_time_tolerance))

    def _check_limits(self, times: np.ndarray, pos: np.ndarray, vel: np.ndarray) -> None:
        for i in range(len(times)):
            outside = (pos[i] < self._lower - POSITION_LIMIT_SLACK) | (pos[i] > self._upper + POSITION_LIMIT_SLACK)
            bad = np.flatnonzero(outside)
            if bad.size:
                j = bad[0]
                raise GoalRejected(INVALID_GOAL, f"points[{i}].positions: {self.joints[j]}={pos[i, j]:.4f} outside its "
                                                 f"limits [{self._lower[j]:.4f}, {self._upper[j]:.4f}]")
            vmax = self._vmax * (1.0 + VELOCITY_LIMIT_SLACK)
            bad = np.flatnonzero(np.abs(np.nan_to_num(vel[i])) > vmax)
            if bad.size:
                j = bad[0]
                raise GoalRejected(INVALID_GOAL, f"points[{i}].velocities: {self.joints[j]}={vel[i, j]:.4f} exceeds its "
                                                 f"velocity limit {self._vmax[j]:.4f}")
            if i > 0:
                implied = np.abs(pos[i] - pos[i - 1]) / (times[i] - times[i - 1])
                bad = np.flatnonzero(implied > vmax)
                if bad.size:
                    j = bad[0]
                    raise GoalRejected(INVALID_GOAL, f"points[{i - 1}]->points[{i}]: {self.joints[j]} moves at "
                                                     f"{implied[j]:.4f} on average, over its velocity limit "
                                                     f"{self._vmax[j]:.4f}")

    def _tolerances(self, given: tuple[JointTolerance, ...], key: str, default: float | None,
                    field_name: str) -> np.ndarray:
        """Per-joint tolerances (inf = not checked) from a goal's list and the config default."""
        out = np.full(len(self.joints), np.inf if default is None else float(default))
        for tol in given:
            if tol.name not in self._index:
                raise GoalRejected(INVALID_JOINTS, f"{field_name}: unknown joint {tol.name!r}; this controller drives "
                                                   f"{list(self.joints)}")
            value = getattr(tol, key)
            if not math.isfinite(value):
                raise GoalRejected(INVALID_GOAL, f"{field_name}[{tol.name}].{key}: must be finite, got {value}")
            if value > 0.0:
                out[self._index[tol.name]] = value
            elif value < 0.0:
                out[self._index[tol.name]] = np.inf
        return out

    def _goal_time(self, value: float) -> float:
        if not math.isfinite(value) or value < 0.0:
            raise GoalRejected(INVALID_GOAL, f"goal_time_tolerance: must be >= 0 s, got {value}")
        return value if value > 0.0 else self.config.goal_time_tolerance

    # ------------------------------------------------------------- running
    def start(self, trajectory: Trajectory, now: float) -> int:
        """Make ``trajectory`` the active goal (from the last measured state); returns its goal id.

        An active goal is aborted first (preemption), with INVALID_GOAL as ros2_control does."""
        self._finish_active(GoalState.ABORTED, INVALID_GOAL, "preempted by a new goal")
        goal_id = self._next_id
        self._next_id += 1
        start = trajectory.start_time if trajectory.start_time is not None else float(now)
        goal = _Goal(goal_id, trajectory, start, self._q.copy(), self._qd.copy())
        desired = sample_trajectory(trajectory, now - start, goal.start_positions, goal.start_velocities)
        goal.status = self._snapshot(goal, GoalState.ACTIVE, SUCCESSFUL, "", float(now), desired)
        self._goals[goal_id] = goal
        self._active = goal_id
        return goal_id

    def cancel(self, goal_id: int) -> GoalStatus:
        """Stop goal ``goal_id`` if it is active and hold the measured position; returns its status."""
        goal = self._goal(goal_id)
        if self._active == goal_id:
            self._finish_active(GoalState.CANCELED, SUCCESSFUL, "canceled: holding position")
        return goal.status

    def abort_active(self, message: str) -> None:
        """Abort the active goal (if any) as a faulted controller does, and hold the measured position."""
        self._finish_active(GoalState.ABORTED, PATH_TOLERANCE_VIOLATED, message)

    def status(self, goal_id: int) -> GoalStatus:
        return self._goal(goal_id).status

    def forget(self, goal_id: int) -> None:
        """Drop the record of a finished goal."""
        if goal_id != self._active:
            self._goals.pop(goal_id, None)

    def _goal(self, goal_id: int) -> _Goal:
        if goal_id not in self._goals:
            raise UnknownGoalError(f"goal_id: no goal {goal_id}")
        return self._goals[goal_id]

    def _snapshot(self, goal: _Goal, state: GoalState, code: int, message: str, now: float,
                  desired: Sample) -> GoalStatus:
        return GoalStatus(goal.goal_id, state, code, message, now, desired, self._q.copy(), self._qd.copy())

    def _finish_active(self, state: GoalState, code: int, message: str) -> None:
        if self._active is None:
            return
        goal = self._goals[self._active]
        goal.status = self._snapshot(goal, state, code, message, self._now, goal.status.desired)
        self._hold = self._q.copy()
        self._active = None

    def update(self, now: float, q, qd) -> np.ndarray:
        """One control period: measured positions/velocities in, position targets (n,) out."""
        self._measure(q, qd, now)
        if self._active is None:
            return self._hold.copy()
        goal = self._goals[self._active]
        traj = goal.trajectory
        t = now - goal.start_time
        desired = sample_trajectory(traj, t, goal.start_positions, goal.start_velocities)
        pos_err = np.abs(desired.positions - self._q)
        vel_err = np.abs(desired.velocities - self._qd)
        if 0.0 <= t < traj.duration:
            violation = self._violation(pos_err, vel_err, traj.path_position_tolerance, traj.path_velocity_tolerance)
            if violation:
                goal.status = self._snapshot(goal, GoalState.ACTIVE, SUCCESSFUL, "", now, desired)
                self._finish_active(GoalState.ABORTED, PATH_TOLERANCE_VIOLATED,
                                    f"path tolerance violated: {violation}")
                return self._hold.copy()
        elif t >= traj.duration:
            violation = self._violation(pos_err, np.abs(self._qd), traj.goal_position_tolerance,
                                        traj.goal_velocity_tolerance)
            if not violation:
                goal.status = self._snapshot(goal, GoalState.SUCCEEDED, SUCCESSFUL, "", now, desired)
                self._active = None
                self._hold = traj.positions[-1].copy()
                return self._hold.copy()
            if t > traj.duration + traj.goal_time_tolerance:
                goal.status = self._snapshot(goal, GoalState.ACTIVE, SUCCESSFUL, "", now, desired)
                self._finish_active(GoalState.ABORTED, GOAL_TOLERANCE_VIOLATED,
                                    f"goal tolerance violated {traj.goal_time_tolerance:.3f} s after the trajectory "
                                    f"end: {violation}")
                return self._hold.copy()
        goal.status = self._snapshot(goal, GoalState.ACTIVE, SUCCESSFUL, "", now, desired)
        return desired.positions.copy()

    def _violation(self, pos_err, vel_err, pos_tol, vel_tol) -> str:
        """'' when within tolerance, else which joint is off and by how much."""
        for kind, err, tol in (("position", pos_err, pos_tol), ("velocity", vel_err, vel_tol)):
            bad = np.flatnonzero(err > tol)
            if bad.size:
                j = bad[0]
                return f"{self.joints[j]} {kind} error {err[j]:.4f} > tolerance {tol[j]:.4f}"
        return ""
