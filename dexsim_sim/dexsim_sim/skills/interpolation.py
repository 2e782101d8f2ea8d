"""Time-parameterised joint-space trajectories through waypoints, within per-joint velocity and acceleration limits.

Each segment between consecutive waypoints is a straight line in joint space travelled with a
trapezoidal (or triangular) path-speed profile that starts and ends at rest. All joints are
synchronised on the segment, so the motion stays on the line the planner checked for collisions;
the path speed is the largest one under which every joint keeps its own limits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TIME_EPS = 1e-9        # s: sample times closer than this to the end are merged with it
DISTANCE_EPS = 1e-12   # rad (or m): a segment shorter than this is skipped


class TrajectoryError(ValueError):
    """Invalid waypoints or limits."""


@dataclass(frozen=True)
class JointTrajectory:
    """Samples of a trajectory: ``times`` (T,) s; positions/velocities/accelerations (T, n) in rad, rad/s, rad/s^2."""

    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    accelerations: np.ndarray

    @property
    def duration(self) -> float:
        return float(self.times[-1])


@dataclass(frozen=True)
class _Segment:
    start: np.ndarray      # q at the segment start
    delta: np.ndarray      # q_end - q_start
    t0: float              # start time, s
    t_acc: float           # acceleration (and deceleration) phase, s
    t_cruise: float        # constant-speed phase, s
    speed: float           # peak path speed, 1/s (path parameter s in [0, 1])
    accel: float           # path acceleration, 1/s^2

    @property
    def duration(self) -> float:
        return 2.0 * self.t_acc + self.t_cruise

    def path(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Path parameter s, ds/dt, d2s/dt2 at local times ``t`` in [0, duration]."""
        ta, tc, v, a = self.t_acc, self.t_cruise, self.speed, self.accel
        s = np.empty_like(t)
        sd = np.empty_like(t)
        sdd = np.empty_like(t)
        up = t < ta
        cruise = (t >= ta) & (t < ta + tc)
        down = t >= ta + tc
        s[up], sd[up], sdd[up] = 0.5 * a * t[up] ** 2, a * t[up], a
        tcr = t[cruise] - ta
        s[cruise], sd[cruise], sdd[cruise] = 0.5 * a * ta ** 2 + v * tcr, v, 0.0
        rem = np.maximum(self.duration - t[down], 0.0)
        s[down], sd[down], sdd[down] = 1.0 - 0.5 * a * rem ** 2, a * rem, -a
        return s, sd, sdd


def _segment(start: np.ndarray, end: np.ndarray, t0: float, vmax: np.ndarray, amax: np.ndarray) -> _Segment:
    delta = end - start
    moving = np.abs(delta) > DISTANCE_EPS
    speed = float(np.min(vmax[moving] / np.abs(delta[moving])))   # path-parameter limits
    accel = float(np.min(amax[moving] / np.abs(delta[moving])))
    t_acc = speed / accel
    if accel * t_acc ** 2 >= 1.0:      # never reaches the speed limit: triangular profile
        t_acc = math.sqrt(1.0 / accel)
        speed = accel * t_acc
        t_cruise = 0.0
    else:
        t_cruise = (1.0 - accel * t_acc ** 2) / speed
    return _Segment(start, delta, t0, t_acc, t_cruise, speed, accel)


def _limits(value, n: int, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy() if np.ndim(value) == 0 \
        else np.asarray(value, dtype=float)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise TrajectoryError(f"{name}: expected a positive number or {n} positive numbers, got {value!r}")
    return arr


def time_parameterize(waypoints, max_velocity, max_acceleration, rate_hz: float) -> JointTrajectory:
    """Trajectory through ``waypoints`` (K, n), stopping at each, sampled every ``1/rate_hz`` s.

    ``max_velocity`` (rad/s) and ``max_acceleration`` (rad/s^2) are per joint or scalars. The first
    and last samples are exactly the first and last waypoints, at rest.
    """
    points = np.asarray(waypoints, dtype=float)
    if points.ndim != 2 or points.shape[0] < 1 or not np.all(np.isfinite(points)):
        raise TrajectoryError(f"waypoints: expected a finite (K, n) array with K >= 1, got shape {points.shape}")
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz > 0):
        raise TrajectoryError(f"rate_hz: must be a positive number, got {rate_hz!r}")
    n = points.shape[1]
    vmax = _limits(max_velocity, n, "max_velocity")
    amax = _limits(max_acceleration, n, "max_acceleration")
    segments: list[_Segment] = []
    t0 = 0.0
    for start, end in zip(points[:-1], points[1:]):
        if np.max(np.abs(end - start)) <= DISTANCE_EPS:
            continue
        seg = _segment(start, end, t0, vmax, amax)
        segments.append(seg)
        t0 += seg.duration
    total = t0
    times = np.arange(0.0, total, 1.0 / rate_hz) if total > 0 else np.zeros(0)
    if len(times) > 1 and total - times[-1] < TIME_EPS:
        times = times[:-1]
    times = np.append(times, total)
    positions = np.repeat(points[:1], len(times), axis=0)
    velocities = np.zeros_like(positions)
    accelerations = np.zeros_like(positions)
    for seg in segments:
        mask = (times >= seg.t0) & (times <= seg.t0 + seg.duration)
        s, sd, sdd = seg.path(times[mask] - seg.t0)
        positions[mask] = seg.start + s[:, None] * seg.delta
        velocities[mask] = sd[:, None] * seg.delta
        accelerations[mask] = sdd[:, None] * seg.delta
    if total > 0:  # exact end point, at rest
        positions[-1], velocities[-1], accelerations[-1] = points[-1], 0.0, 0.0
    return JointTrajectory(times, positions, velocities, accelerations)


RETIME_SWEEPS = 1000       # relaxation sweeps of :func:`retime_steps` (it stops as soon as none is violated)
RETIME_TIGHTEN = 0.85      # acceleration bound used for the next try when resampling overshot
RETIME_TRIES = 8


def step_limits(q0, steps, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-step velocities and accelerations (T+1, n) of the target sequence ``steps`` (T, n) sent
    every ``dt`` s from rest at ``q0``, ending at rest: the finite differences a joint-trajectory
    safety filter checks (``(q_i - q_{i-1}) / dt`` and ``(v_i - v_{i-1}) / dt``)."""
    q = np.vstack([np.asarray(q0, float)[None], np.asarray(steps, float)])
    v = np.vstack([np.diff(q, axis=0), np.zeros((1, q.shape[1]))]) / dt
    a = np.diff(np.vstack([np.zeros((1, q.shape[1])), v]), axis=0) / dt
    return v, a


def retime_steps(q0, steps, max_velocity, max_acceleration, dt: float) -> np.ndarray:
    """Slow a per-step target sequence down until it keeps joint velocity and acceleration limits.

    ``steps`` (T, n) are targets sent every ``dt`` s starting from rest at ``q0`` and ending at
    rest (e.g. a plan's Cartesian contact segments, whose per-step velocity jumps where key poses
    meet). Returns the fractional indices (T', ) into ``steps`` of the resampled targets, T' >= T,
    one every ``dt`` s, the last exactly ``T - 1``; ``steps[k]`` is index ``k`` and the start ``q0``
    index ``-1``, so the targets are ``np.interp`` of the sequence at these indices. The path
    (the polyline through the targets) is unchanged; only its timing is. A sequence already within
    the limits comes back as ``arange(T)``.

    Method: each step's duration starts at ``max(dt, |dq| / v_max)``; then the two durations around
    every node whose velocity jump ``|u_{k+1} - u_k| / dt`` exceeds the acceleration limit are
    stretched by ``sqrt(ratio)`` (repeated until no node does; the 10 Hz samples see a jump at a
    node as that acceleration, whatever the segments' durations); the
    polyline is resampled every ``dt`` and checked with :func:`step_limits`; where resampling
    overshot, the bound is tightened and the whole relaxation repeated.
    """
    points = np.asarray(steps, float)
    start = np.asarray(q0, float)
    if points.ndim != 2 or len(points) == 0 or start.shape != (points.shape[1],) \
            or not (np.all(np.isfinite(points)) and np.all(np.isfinite(start))):
        raise TrajectoryError(f"retime_steps: expected finite q0 (n,) and steps (T >= 1, n), got "
                              f"{start.shape} and {points.shape}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise TrajectoryError(f"retime_steps: dt must be a positive number, got {dt!r}")
    n = points.shape[1]
    vmax = _limits(max_velocity, n, "max_velocity")
    amax = _limits(max_acceleration, n, "max_acceleration")
    identity = np.arange(len(points), dtype=float)
    v, a = step_limits(start, points, dt)
    if np.all(np.abs(v) <= vmax * (1 + 1e-9)) and np.all(np.abs(a) <= amax * (1 + 1e-9)):
        return identity
    path = np.vstack([start[None], points])                 # node k+1 is steps[k]
    delta = np.diff(path, axis=0)                           # (T, n)
    still = np.max(np.abs(delta), axis=1) <= DISTANCE_EPS
    bound = amax.copy()
    for _ in range(RETIME_TRIES):
        dur = np.maximum(dt, np.max(np.abs(delta) / vmax, axis=1))
        for _sweep in range(RETIME_SWEEPS):
            u = np.vstack([np.zeros((1, n)), delta / dur[:, None], np.zeros((1, n))])   # rest at both ends
            # the 10 Hz samples average the piecewise-constant velocity, so a jump at a node shows
            # up as (jump / dt) in the sampled acceleration, whatever the segments' durations
            ratio = np.max(np.abs(np.diff(u, axis=0)) / (dt * bound), axis=1)           # (T+1,) per node
            if np.all(ratio <= 1.0):
                break
            grow = np.sqrt(np.maximum(ratio, 1.0))
            factor = np.maximum(grow[:-1], grow[1:])        # node k is between steps k-1 and k
            factor[still] = 1.0                             # a hold stays a hold: stretch the motion
            dur = dur * factor
        node_t = np.concatenate([[0.0], np.cumsum(dur)])
        n_out = max(len(points), int(math.ceil(node_t[-1] / dt - 1e-9)))
        t = dt * np.arange(1, n_out + 1)
        index = np.interp(t, node_t, np.arange(-1.0, len(points)))
        index[-1] = len(points) - 1
        resampled = np.stack([np.interp(index, np.arange(-1.0, len(points)), path[:, j]) for j in range(n)], axis=1)
        v, a = step_limits(start, resampled, dt)
        if np.all(np.abs(v) <= vmax * (1 + 1e-9)) and np.all(np.abs(a) <= amax * (1 + 1e-9)):
            return index
        bound = bound * RETIME_TIGHTEN
    raise TrajectoryError(f"retime_steps: no timing within the limits after {RETIME_TRIES} tries "
                          f"(peak |a| {np.abs(a).max():.2f} rad/s^2)")


def sample_steps(q0, steps, index: np.ndarray) -> np.ndarray:
    """The targets (T', n) at fractional ``index`` (from :func:`retime_steps`) of ``steps`` after ``q0``."""
    path = np.vstack([np.asarray(q0, float)[None], np.asarray(steps, float)])
    grid = np.arange(-1.0, len(path) - 1)
    return np.stack([np.interp(index, grid, path[:, j]) for j in range(path.shape[1])], axis=1)
