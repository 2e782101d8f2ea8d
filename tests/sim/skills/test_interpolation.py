"""Trapezoidal joint trajectories: limits respected, exact endpoints, monotone times, straight segments."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.robots.registry import get_robot
from dexsim_sim.skills.interpolation import TrajectoryError, time_parameterize

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
