"""Trapezoidal joint trajectories: limits respected, exact endpoints, monotone times, straight segments."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.robots.registry import get_robot
from dexsim_sim.skills.interpolation import TrajectoryError, retime_steps, sample_steps, step_limits, time_parameterize

RATE_HZ = 100.0
TOL = 1e-9


def _waypoints(seed: int, count: int, dof: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=(count, dof))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_limits_endpoints_and_monotone_times(seed):
    robot = get_robot("sr3")
    vmax = np.array([robot.limits[j].velocity for j in robot.arm_joints])
    amax = np.full(6, 4.0)
    points = _waypoints(seed, 4, 6)
    traj = time_parameterize(points, vmax, amax, RATE_HZ)
    assert np.all(np.diff(traj.times) > 0)
    assert np.all(np.diff(traj.times) <= 1.0 / RATE_HZ + TOL)
    assert traj.times[0] == 0.0
    np.testing.assert_array_equal(traj.positions[0], points[0])
    np.testing.assert_array_equal(traj.positions[-1], points[-1])
    np.testing.assert_array_equal(traj.velocities[[0, -1]], 0.0)
    assert np.all(np.abs(traj.velocities) <= vmax + TOL)
    assert np.all(np.abs(traj.accelerations) <= amax + TOL)
    # Velocities integrate to positions (the samples are one consistent motion).
    integrated = points[0] + np.concatenate([[np.zeros(6)], np.cumsum(
        0.5 * (traj.velocities[1:] + traj.velocities[:-1]) * np.diff(traj.times)[:, None], axis=0)])
    np.testing.assert_allclose(integrated, traj.positions, atol=2e-2)


def test_some_joint_reaches_its_limit_on_a_long_move():
    vmax, amax = np.array([1.0, 2.0]), np.array([3.0, 3.0])
    traj = time_parameterize([[0.0, 0.0], [3.0, 1.0]], vmax, amax, 200.0)
    assert np.max(np.abs(traj.velocities[:, 0])) == pytest.approx(1.0)   # the bottleneck joint cruises at its limit
    assert np.max(np.abs(traj.accelerations[:, 0])) <= 3.0 + TOL


def test_segments_are_straight_lines_in_joint_space():
    points = np.array([[0.0, 0.0, 0.0], [1.0, -0.5, 0.2], [1.0, 1.0, -1.0]])
    traj = time_parameterize(points, 1.5, 2.0, RATE_HZ)
    for start, end in zip(points[:-1], points[1:]):
        delta = end - start
        s = (traj.positions - start) @ delta / (delta @ delta)
        on_segment = (s >= 0) & (s <= 1) & (np.linalg.norm(traj.positions - start - s[:, None] * delta, axis=1) < 1e-9)
        assert on_segment.sum() > 10
    residual = [min(np.linalg.norm(np.cross(q - a, b - a)) for a, b in zip(points[:-1], points[1:]))
                for q in traj.positions]
    assert max(residual) < 1e-9


def test_repeated_and_single_waypoints():
    traj = time_parameterize([[0.5, 0.5], [0.5, 0.5]], 1.0, 1.0, RATE_HZ)
    assert traj.duration == 0.0 and len(traj.times) == 1
    traj = time_parameterize([[0.0], [1.0], [1.0], [0.0]], 1.0, 1.0, RATE_HZ)
    assert traj.positions[-1, 0] == 0.0 and traj.duration == pytest.approx(4.0)  # two triangles of 2 s


def test_invalid_inputs_name_the_field():
    with pytest.raises(TrajectoryError, match="max_velocity"):
        time_parameterize([[0.0, 0.0], [1.0, 1.0]], [1.0, -1.0], 1.0, RATE_HZ)
    with pytest.raises(TrajectoryError, match="rate_hz"):
        time_parameterize([[0.0], [1.0]], 1.0, 1.0, 0.0)
    with pytest.raises(TrajectoryError, match="waypoints"):
        time_parameterize([0.0, 1.0], 1.0, 1.0, RATE_HZ)


# ---- retime_steps: per-step targets slowed to the filter's finite-difference limits -------------

def _segment_steps(q0, corners, steps_each):
    """Per-step targets along straight segments at constant speed per segment (a plan's contact part)."""
    out, prev = [], np.asarray(q0, float)
    for corner in corners:
        corner = np.asarray(corner, float)
        out += [prev + (corner - prev) * (i / steps_each) for i in range(1, steps_each + 1)]
        prev = corner
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retime_steps_keeps_limits_path_and_end(seed):
    rng = np.random.default_rng(seed)
    q0 = rng.uniform(-1, 1, 4)
    steps = _segment_steps(q0, rng.uniform(-1.5, 1.5, (5, 4)), 3)   # fast: far beyond the limits
    vmax, amax, dt = np.array([1.0, 1.5, 2.0, 1.0]), 5.0, 0.1
    v, a = step_limits(q0, steps, dt)
    assert np.abs(a).max() > amax                       # the input violates
    index = retime_steps(q0, steps, vmax, amax, dt)
    out = sample_steps(q0, steps, index)
    v, a = step_limits(q0, out, dt)
    assert np.all(np.abs(v) <= vmax + 1e-9) and np.all(np.abs(a) <= amax + 1e-9)
    assert len(out) > len(steps) and index[-1] == len(steps) - 1
    np.testing.assert_allclose(out[-1], steps[-1])
    assert np.all(np.diff(index) >= 0)                   # the same path, forwards only
    for k in range(len(steps)):                          # every corner of the polyline is visited...
        assert np.min(np.abs(index - k)) < 1.0           # ...or passed within a step


def test_retime_steps_leaves_a_feasible_sequence_alone():
    q0 = np.zeros(3)
    steps = _segment_steps(q0, [[0.05, 0.0, -0.05], [0.1, 0.02, -0.05]], 10)
    np.testing.assert_array_equal(retime_steps(q0, steps, 1.0, 5.0, 0.1), np.arange(len(steps), dtype=float))


def test_retime_steps_holds_stay_and_bad_input_is_named():
    q0 = np.zeros(2)
    steps = np.vstack([_segment_steps(q0, [[1.0, 0.0]], 2), np.repeat([[1.0, 0.0]], 4, axis=0)])  # move, hold
    index = retime_steps(q0, steps, 2.0, 4.0, 0.1)
    assert np.sum(index >= 2.0 - 1e-9) >= 4              # the hold keeps at least its steps
    with pytest.raises(TrajectoryError, match="dt"):
        retime_steps(q0, steps, 1.0, 1.0, 0.0)
    with pytest.raises(TrajectoryError, match="finite"):
        retime_steps(q0, np.full((2, 2), np.nan), 1.0, 1.0, 0.1)
