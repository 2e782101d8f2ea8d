"""Last-line safety filter for joint trajectories (numpy only: no ROS, no torch).

:meth:`SafetyFilter.filter_trajectory` turns any command into one that satisfies the limits,
or refuses it:
  1. any NaN/inf in the current state, times or positions -> the whole command is refused;
     so are times that are not strictly increasing from > 0 (time from start, s);
  2. positions are clipped to ``[lower, upper]`` (rad);
  3. (``mode="retime"``) segments are stretched so that no joint needs more than its maximum
     velocity; then, in both modes, each step is clipped so that its velocity
     ``(q_i - q_{i-1}) / dt_i`` stays within ``max_velocity`` and its acceleration
     ``(v_i - v_{i-1}) / dt_i`` within ``max_acceleration`` (starting from ``v_current``,
     default at rest) without leaving the position limits; where no such step exists (the
     joint is already too fast to stop before a limit) the trajectory is cut at the last
     feasible point;
  4. with a forward-kinematics callable and a workspace box, every kept point's end effector
     must lie in the box: ``workspace_mode="truncate"`` keeps the points before the first
     violation (clip-to-last-safe), ``"refuse"`` refuses the whole command.
Whatever is returned satisfies :meth:`SafetyFilter.check` (positions, velocities,
accelerations, workspace). An empty result means "do not move"; the report says why.
If ``q_current`` itself is outside the limits it is clipped into them as the start point
(counted as ``start_out_of_limits``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .errors import SafetyError

VIOLATION_KINDS = ("non_finite", "bad_times", "start_out_of_limits", "position", "velocity", "acceleration",
                   "infeasible", "workspace")
FILTER_MODES = ("clip", "retime")
WORKSPACE_MODES = ("truncate", "refuse")
CHECK_REL_TOL = 1e-9  # relative slack of check() for floating-point round-off
CHECK_ABS_TOL = 1e-9
XYZ = 3


def _floats(name: str, values: Sequence[float], n: int | None = None) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if n is not None and arr.shape != (n,):
        raise SafetyError(f"SafetyLimits.{name}: expected {n} values, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise SafetyError(f"SafetyLimits.{name}={arr.tolist()}: expected finite values")
    return tuple(float(x) for x in arr)


@dataclass(frozen=True)
class SafetyLimits:
    """Per-joint position (rad), velocity (rad/s) and acceleration (rad/s^2) limits, an optional
    end-effector workspace box (m, robot base frame) and the gripper command range."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    max_velocity: tuple[float, ...]
    max_acceleration: tuple[float, ...]
    workspace_min: tuple[float, float, float] | None = None
    workspace_max: tuple[float, float, float] | None = None
    gripper_min: float = 0.0
    gripper_max: float = 1.0

    def __post_init__(self) -> None:
        n = len(self.lower)
        if n == 0:
            raise SafetyError("SafetyLimits.lower: expected at least one joint")
        for name in ("lower", "upper", "max_velocity", "max_acceleration"):
            object.__setattr__(self, name, _floats(name, getattr(self, name), n))
        for i, (lo, hi) in enumerate(zip(self.lower, self.upper)):
            if not lo < hi:
                raise SafetyError(f"SafetyLimits joint {i}: lower={lo} must be < upper={hi}")
        for name in ("max_velocity", "max_acceleration"):
            if min(getattr(self, name)) <= 0:
                raise SafetyError(f"SafetyLimits.{name}={getattr(self, name)}: expected all > 0")
        if (self.workspace_min is None) != (self.workspace_max is None):
            raise SafetyError("SafetyLimits.workspace_min/workspace_max: give both or neither")
        if self.workspace_min is not None:
            wmin = _floats("workspace_min", self.workspace_min, XYZ)
            wmax = _floats("workspace_max", self.workspace_max, XYZ)
            if not all(a < b for a, b in zip(wmin, wmax)):
                raise SafetyError(f"SafetyLimits.workspace_min={wmin} must be < workspace_max={wmax} per axis")
            object.__setattr__(self, "workspace_min", wmin)
            object.__setattr__(self, "workspace_max", wmax)
        g = _floats("gripper_min/gripper_max", (self.gripper_min, self.gripper_max))
        if not g[0] < g[1]:
            raise SafetyError(f"SafetyLimits.gripper_min={g[0]} must be < gripper_max={g[1]}")

    @property
    def dof(self) -> int:
        return len(self.lower)

    @classmethod
    def from_joint_limits(cls, limits: Sequence[Any], max_acceleration: float | Sequence[float],
                          velocity_scale: float = 1.0, **kwargs) -> "SafetyLimits":
        """From objects with ``lower``, ``upper``, ``velocity`` (e.g. the robot registry's
        ``JointLimit``), scaling velocities by ``velocity_scale`` (0 < s <= 1)."""
        if not 0 < velocity_scale <= 1:
            raise SafetyError(f"velocity_scale={velocity_scale}: expected 0 < s <= 1")
        acc = np.broadcast_to(np.asarray(max_acceleration, dtype=np.float64), (len(limits),))
        return cls(lower=tuple(l.lower for l in limits), upper=tuple(l.upper for l in limits),
                   max_velocity=tuple(velocity_scale * l.velocity for l in limits),
                   max_acceleration=tuple(acc), **kwargs)


@dataclass
class SafetyReport:
    accepted: bool
    n_input: int
    n_output: int
    times: np.ndarray  # time from start (s) of the returned points
    violations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIOLATION_KINDS, 0))
    refused_reason: str | None = None

    @property
    def modified(self) -> bool:
        return any(self.violations.values())

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "n_input": self.n_input, "n_output": self.n_output,
                "violations": dict(self.violations), "refused_reason": self.refused_reason}


class SafetyFilter:
    """See the module docstring. ``fk(q) -> xyz`` (or a 7-pose whose first 3 are xyz) in the
    robot base frame is needed for the workspace check; with ``batched_fk`` it also takes (K, n)
    and returns (K, 3) (or (K, 7)), one call per trajectory."""

    def __init__(self, limits: SafetyLimits, fk: Callable[[np.ndarray], np.ndarray] | None = None,
                 mode: str = "clip", workspace_mode: str = "truncate", batched_fk: bool = False) -> None:
        if mode not in FILTER_MODES:
            raise SafetyError(f"mode={mode!r}: expected one of {FILTER_MODES}")
        if workspace_mode not in WORKSPACE_MODES:
            raise SafetyError(f"workspace_mode={workspace_mode!r}: expected one of {WORKSPACE_MODES}")
        if limits.workspace_min is not None and fk is None:
            raise SafetyError("limits define a workspace box but no fk callable was given")
        self.limits = limits
        self.fk = fk
        self.batched_fk = batched_fk
        self.mode = mode
        self.workspace_mode = workspace_mode
        self._lo = np.asarray(limits.lower)
        self._hi = np.asarray(limits.upper)
        self._vmax = np.asarray(limits.max_velocity)
        self._amax = np.asarray(limits.max_acceleration)

    # ---- helpers -----------------------------------------------------------------------------
    def _shapes(self, q_current, times, positions, v_current):
        n = self.limits.dof
        q = np.asarray(q_current, dtype=np.float64)
        t = np.asarray(times, dtype=np.float64)
        p = np.asarray(positions, dtype=np.float64)
        v = np.zeros(n) if v_current is None else np.asarray(v_current, dtype=np.float64)
        if q.shape != (n,) or v.shape != (n,):
            raise SafetyError(f"q_current/v_current: expected shape ({n},), got {q.shape}/{v.shape}")
        if p.ndim != 2 or p.shape[1] != n or t.shape != (p.shape[0],):
            raise SafetyError(f"positions (K, {n}) and times (K,) expected, got {p.shape} and {t.shape}")
        return q, t, p, v

    def _outside(self, qs: np.ndarray) -> np.ndarray:
        """Per row of ``qs`` (K, n): True where the end effector is outside the workspace box (or
        not finite). One batched FK call when ``batched_fk``."""
        if self.limits.workspace_min is None or len(qs) == 0:
            return np.zeros(len(qs), dtype=bool)
        with np.errstate(all="ignore"):
            if self.batched_fk:
                xyz = np.asarray(self.fk(qs), dtype=np.float64).reshape(len(qs), -1)
            else:
                xyz = np.stack([np.asarray(self.fk(q), dtype=np.float64).reshape(-1) for q in qs])
            if xyz.shape[1] < XYZ:
                return np.ones(len(qs), dtype=bool)
            xyz = xyz[:, :XYZ]
            inside = (np.all(np.isfinite(xyz), axis=1) & np.all(xyz >= self.limits.workspace_min, axis=1)
                      & np.all(xyz <= self.limits.workspace_max, axis=1))
        return ~inside

    def _first_outside(self, qs: np.ndarray) -> int:
        """Index of the first row of ``qs`` outside the workspace; K when all are inside."""
        bad = np.flatnonzero(self._outside(qs))
        return int(bad[0]) if len(bad) else len(qs)

    def _refuse(self, report: SafetyReport, kind: str, reason: str) -> tuple[np.ndarray, SafetyReport]:
        report.violations[kind] += 1
        report.accepted, report.refused_reason, report.n_output = False, reason, 0
        report.times = np.empty(0)
        return np.empty((0, self.limits.dof)), report

    def _retime(self, q0: np.ndarray, times: np.ndarray, targets: np.ndarray) -> np.ndarray:
        prev = np.vstack([q0, targets[:-1]])
        dt = np.diff(np.concatenate([[0.0], times]))
        need = np.max(np.abs(targets - prev) / self._vmax, axis=1)
        return np.cumsum(np.maximum(dt, need))

    # ---- API ---------------------------------------------------------------------------------
    def filter_trajectory(self, q_current: Sequence[float], times: Sequence[float], positions: Sequence[Sequence[float]],
                          v_current: Sequence[float] | None = None) -> tuple[np.ndarray, SafetyReport]:
        """-> (positions_safe (K', n), report); ``report.times`` are the kept points' times."""
        q0, t, p, v0 = self._shapes(q_current, times, positions, v_current)
        report = SafetyReport(accepted=True, n_input=len(p), n_output=0, times=np.empty(0))
        if len(p) == 0:
            return self._refuse(report, "bad_times", "empty trajectory")
        if not (np.all(np.isfinite(q0)) and np.all(np.isfinite(t)) and np.all(np.isfinite(p))
                and np.all(np.isfinite(v0))):
            return self._refuse(report, "non_finite", "NaN or inf in the command or the current state")
        if not (t[0] > 0 and np.all(np.diff(t) > 0)):
            return self._refuse(report, "bad_times", "times must be strictly increasing and > 0")
        if np.any((q0 < self._lo) | (q0 > self._hi)):
            report.violations["start_out_of_limits"] += 1
            q0 = np.clip(q0, self._lo, self._hi)
        targets = np.clip(p, self._lo, self._hi)
        report.violations["position"] += int(np.count_nonzero(targets != p))
        if self.mode == "retime":
            t = self._retime(q0, t, targets)
        out_q, out_t = [], []
        q_prev, v_prev, t_prev = q0, np.clip(v0, -self._vmax, self._vmax), 0.0
        infeasible = False
        for i in range(len(targets)):
            dt = t[i] - t_prev
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                v_des = (targets[i] - q_prev) / dt
                lo_v = np.maximum.reduce([-self._vmax, v_prev - self._amax * dt, (self._lo - q_prev) / dt])
                hi_v = np.minimum.reduce([self._vmax, v_prev + self._amax * dt, (self._hi - q_prev) / dt])
            if np.any(lo_v > hi_v):
                infeasible = True
                break
            v = np.clip(v_des, lo_v, hi_v)
            over_v = np.abs(v_des) > self._vmax
            report.violations["velocity"] += int(np.count_nonzero(over_v))
            report.violations["acceleration"] += int(np.count_nonzero((v != v_des) & ~over_v))
            q = np.clip(q_prev + v * dt, self._lo, self._hi)
            out_q.append(q)
            out_t.append(t[i])
            v_prev = (q - q_prev) / dt
            q_prev, t_prev = q, t[i]
        # The workspace check of every kept point at once (the points do not depend on it): the
        # trajectory ends before the first point outside, as if the loop had stopped there.
        outside = self._first_outside(np.asarray(out_q).reshape(len(out_q), -1))
        if outside < len(out_q):
            report.violations["workspace"] += 1
            if self.workspace_mode == "refuse":
                return self._refuse(report, "workspace", f"end effector leaves the workspace at point {outside}")
            del out_q[outside:], out_t[outside:]
        elif infeasible:
            report.violations["infeasible"] += 1
        report.n_output = len(out_q)
        report.times = np.asarray(out_t)
        if not out_q:
            report.accepted = False
            report.refused_reason = "no point of the trajectory could be kept"
            return np.empty((0, self.limits.dof)), report
        return np.asarray(out_q), report

    def filter_gripper(self, command: float) -> tuple[float | None, SafetyReport]:
        """Clip a gripper command to its range; NaN/inf is refused (None)."""
        report = SafetyReport(accepted=True, n_input=1, n_output=1, times=np.empty(0))
        value = float(np.asarray(command, dtype=np.float64).reshape(-1)[0])
        if not math.isfinite(value):
            report.violations["non_finite"] += 1
            report.accepted, report.refused_reason, report.n_output = False, "non-finite gripper command", 0
            return None, report
        clipped = min(max(value, self.limits.gripper_min), self.limits.gripper_max)
        report.violations["position"] += int(clipped != value)
        return clipped, report

    def check(self, q_current: Sequence[float], times: Sequence[float], positions: Sequence[Sequence[float]],
              v_current: Sequence[float] | None = None) -> dict[str, int]:
        """Count limit violations of a trajectory as it stands (no changes); all zero = safe."""
        q0, t, p, v0 = self._shapes(q_current, times, positions, v_current)
        counts = dict.fromkeys(VIOLATION_KINDS, 0)
        if len(p) == 0:
            return counts
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
            counts["non_finite"] += 1
            return counts
        if not (t[0] > 0 and np.all(np.diff(t) > 0)):
            counts["bad_times"] += 1
            return counts
        q0 = np.clip(q0, self._lo, self._hi)
        counts["position"] = int(np.count_nonzero((p < self._lo) | (p > self._hi)))
        dt = np.diff(np.concatenate([[0.0], t]))[:, None]
        v = np.diff(np.vstack([q0, p]), axis=0) / dt
        tol_v = self._vmax * (1 + CHECK_REL_TOL) + CHECK_ABS_TOL
        counts["velocity"] = int(np.count_nonzero(np.abs(v) > tol_v))
        a = np.diff(np.vstack([np.clip(v0, -self._vmax, self._vmax), v]), axis=0)
        tol_a = self._amax * dt * (1 + CHECK_REL_TOL) + CHECK_ABS_TOL * np.maximum(1.0, np.abs(v).max())
        counts["acceleration"] = int(np.count_nonzero(np.abs(a) > tol_a))
        counts["workspace"] = int(np.count_nonzero(self._outside(p)))
        return counts
