"""From a policy's action chunk to safe robot commands: the one post-processing path shared by the
ROS policy node and in-process evaluation (numpy only: no ROS, no torch).

A chunk is ``(Ta, Da)`` un-normalized actions whose first ``n_joints`` columns are joint position
targets (rad, one per control period ``action_dt_s``) and whose ``gripper_column`` is the gripper
closure (1 closed, 0 open). :meth:`ActionCommander.command`:

1. keeps the first ``execute_steps`` rows and times them ``(k + 1) * action_dt_s`` from now;
2. passes them through the :class:`~dexsim_policy.safety.SafetyFilter` from the start point (the
   position currently commanded, so consecutive chunks join without a jump, else the measured one)
   and the measured velocity: NaN/inf are refused, positions/velocities/accelerations clipped,
   the end-effector workspace box enforced (clip-to-last-safe);
3. turns the gripper closure of the first row into an open/closed state (hysteresis-free threshold)
   and emits a gripper command only when that state changes (NaN/inf closures are refused).

Counters of what was sent, refused and clipped accumulate in :attr:`ActionCommander.counters`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from dexsim_sim.robots.kinematics import arm_chain

from .errors import PolicyConfigError
from .safety import SafetyFilter, SafetyLimits, SafetyReport

DEFAULT_ACTION_DT_S = 0.1            # s between chunk rows: the data engine's 10 Hz control period
DEFAULT_MAX_ACCELERATION = 10.0      # rad/s^2 per joint (the robot descriptions carry none)
GRIPPER_CLOSED_THRESHOLD = 0.5       # closure above which the gripper is commanded closed
WORKSPACE_FLOOR_M = -0.05            # m, lowest end-effector z in the robot base frame
WORKSPACE_REACH_MARGIN = 1.1         # x/y/z box half-size = margin * the arm's reach at zero joints
COUNTER_KEYS = ("commands", "goals_sent", "refused", "clipped", "gripper_sent", "gripper_refused")


@dataclass(frozen=True)
class CommandConfig:
    """How chunks become commands. ``execute_steps=0`` sends the whole chunk."""

    action_dt_s: float = DEFAULT_ACTION_DT_S
    execute_steps: int = 0
    max_acceleration: float = DEFAULT_MAX_ACCELERATION
    velocity_scale: float = 1.0
    gripper_column: int = -1
    workspace: bool = True          # enforce the end-effector workspace box (needs forward kinematics)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.action_dt_s) and self.action_dt_s > 0):
            raise PolicyConfigError(f"CommandConfig.action_dt_s={self.action_dt_s}: expected a finite value > 0")
        if self.execute_steps < 0:
            raise PolicyConfigError(f"CommandConfig.execute_steps={self.execute_steps}: expected >= 0 (0 = all)")
        if not (math.isfinite(self.max_acceleration) and self.max_acceleration > 0):
            raise PolicyConfigError(f"CommandConfig.max_acceleration={self.max_acceleration}: expected > 0")
        if not 0 < self.velocity_scale <= 1:
            raise PolicyConfigError(f"CommandConfig.velocity_scale={self.velocity_scale}: expected 0 < s <= 1")


@dataclass
class Command:
    """What to send now. ``positions`` empty = send no trajectory (refused or nothing left);
    ``gripper_position`` (m) is None when the gripper state did not change or was refused."""

    times: np.ndarray                  # (K,) s from now
    positions: np.ndarray              # (K, n) rad
    gripper_position: float | None
    gripper_closed: bool | None        # the commanded state after this call (None: never commanded)
    report: SafetyReport
    gripper_report: SafetyReport | None = None

    @property
    def has_trajectory(self) -> bool:
        return len(self.positions) > 0


def robot_limits(robot, config: CommandConfig, arm: str = "") -> tuple[SafetyLimits, object]:
    """Safety limits of one arm from the robot registry (joint limits, a workspace box around the
    arm's reach, gripper closure in [0, 1]) and its forward-kinematics callable."""
    spec = robot.arm(arm)
    chain = arm_chain(robot, arm)
    fk = lambda q: chain.fk(np.asarray(q, dtype=np.float64))[..., :3, 3]  # noqa: E731  (q or (K, n))
    box = {}
    if config.workspace:
        reach = WORKSPACE_REACH_MARGIN * float(np.linalg.norm(fk(np.zeros(len(spec.joints)))))
        box = dict(workspace_min=(-reach, -reach, WORKSPACE_FLOOR_M), workspace_max=(reach, reach, reach))
    limits = SafetyLimits.from_joint_limits([robot.limits[j] for j in spec.joints], config.max_acceleration,
                                            velocity_scale=config.velocity_scale, **box)
    return limits, fk


@dataclass
class ActionCommander:
    """Stateful (per episode): remembers the commanded gripper state and the last trajectory."""

    safety: SafetyFilter
    config: CommandConfig
    gripper_open_m: float
    gripper_closed_m: float
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_KEYS, 0))
    violations: dict[str, int] = field(default_factory=dict)
    _gripper_closed: bool | None = None

    @classmethod
    def for_robot(cls, robot, config: CommandConfig | None = None, arm: str = "") -> "ActionCommander":
        config = config or CommandConfig()
        limits, fk = robot_limits(robot, config, arm)
        return cls(SafetyFilter(limits, fk if config.workspace else None, batched_fk=True), config,
                   float(robot.gripper_open), float(robot.gripper_closed))

    @property
    def n_joints(self) -> int:
        return self.safety.limits.dof

    def reset(self) -> None:
        """New episode: forget the gripper state (the next command is always sent)."""
        self._gripper_closed = None

    def command(self, chunk: np.ndarray, q_start: np.ndarray, v_start: np.ndarray | None = None,
                times: np.ndarray | None = None) -> Command:
        """Safe trajectory and gripper command for ``chunk`` (see the module doc). ``times`` (s from
        now, increasing, > 0, one per row) overrides the default ``(k + 1) * action_dt_s``."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[1] < self.n_joints + 1 or len(chunk) == 0:
            raise PolicyConfigError(f"chunk: expected (Ta >= 1, >= {self.n_joints + 1}) actions, got {chunk.shape}")
        n = len(chunk) if self.config.execute_steps == 0 else min(self.config.execute_steps, len(chunk))
        rows = chunk[:n]
        if times is None:
            times = self.config.action_dt_s * np.arange(1, n + 1)
        else:
            times = np.asarray(times, dtype=np.float64)[:n]
            if times.shape != (n,) or not np.all(np.isfinite(times)) or times[0] <= 0 or np.any(np.diff(times) <= 0):
                raise PolicyConfigError(f"times: expected {n} increasing finite values > 0, got {times}")
        positions, report = self.safety.filter_trajectory(q_start, times, rows[:, :self.n_joints], v_start)
        self.counters["commands"] += 1
        for kind, count in report.violations.items():
            self.violations[kind] = self.violations.get(kind, 0) + count
        if not report.accepted:
            self.counters["refused"] += 1
        elif report.modified:
            self.counters["clipped"] += 1
        grip_position, grip_report = self._gripper(rows[0, self.config.gripper_column])
        return Command(report.times, positions, grip_position, self._gripper_closed, report, grip_report)

    def _gripper(self, closure: float) -> tuple[float | None, SafetyReport]:
        value, report = self.safety.filter_gripper(closure)
        if value is None:
            self.counters["gripper_refused"] += 1
            return None, report
        closed = value > GRIPPER_CLOSED_THRESHOLD
        if closed == self._gripper_closed:
            return None, report
        self._gripper_closed = closed
        return (self.gripper_closed_m if closed else self.gripper_open_m), report

    def mark_sent(self, trajectory: bool, gripper: bool) -> None:
        """Count what the caller actually sent (dry runs and the watchdog send nothing)."""
        self.counters["goals_sent"] += int(trajectory)
        self.counters["gripper_sent"] += int(gripper)


@dataclass
class CommandedTrajectory:
    """The last trajectory sent (piecewise linear from ``q_start`` at ``t0``): where the arm is
    commanded to be, and how fast, at a time. New chunks start from it, so they join without jumps."""

    t0: float = 0.0
    q_start: np.ndarray | None = None
    times: np.ndarray | None = None          # (K,) s after t0
    positions: np.ndarray | None = None      # (K, n)

    def set(self, t0: float, q_start: np.ndarray, times: np.ndarray, positions: np.ndarray) -> None:
        self.t0, self.q_start = float(t0), np.asarray(q_start, dtype=np.float64)
        self.times, self.positions = np.asarray(times, dtype=np.float64), np.asarray(positions, dtype=np.float64)

    def clear(self) -> None:
        self.q_start = self.times = self.positions = None

    def state(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(position, velocity) commanded at time ``t`` (s, same clock as ``t0``); None if nothing
        was sent. Before the start it is the start point; after the end the last point, at rest."""
        if self.q_start is None:
            return None
        knots = np.concatenate([[0.0], self.times])
        pts = np.vstack([self.q_start[None], self.positions])
        s = t - self.t0
        if s > knots[-1]:
            return pts[-1].copy(), np.zeros(pts.shape[1])
        i = int(np.clip(np.searchsorted(knots, s, side="right") - 1, 0, len(knots) - 2))
        dt = knots[i + 1] - knots[i]
        alpha = min(max((s - knots[i]) / dt, 0.0), 1.0)
        return pts[i] + alpha * (pts[i + 1] - pts[i]), (pts[i + 1] - pts[i]) / dt
