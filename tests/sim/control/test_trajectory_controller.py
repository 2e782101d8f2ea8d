"""Rules of the ROS-free joint trajectory controller (ros2_control joint_trajectory_controller semantics)."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.control.trajectory_controller import (
    GOAL_TOLERANCE_VIOLATED, INVALID_GOAL, INVALID_JOINTS, OLD_HEADER_TIMESTAMP, PATH_TOLERANCE_VIOLATED, SUCCESSFUL,
    ControllerConfigError, GoalRejected, GoalState, JointTolerance, JointTrajectoryController,
    TrajectoryControllerConfig, TrajectoryGoal, TrajectoryPoint, sample_trajectory)
from dexsim_sim.robots.registry import get_robot

JOINTS = ("a", "b")
DT = 0.01  # s, control period of the simulated loops below


def _config(**kw) -> TrajectoryControllerConfig:
    return TrajectoryControllerConfig(JOINTS, (-1.0, -2.0), (1.0, 2.0), (1.0, 2.0), **kw)


def _controller(**kw) -> JointTrajectoryController:
    ctrl = JointTrajectoryController(_config(**kw))
    ctrl.reset([0.0, 0.0], now=0.0)
    return ctrl


def _goal(points, names=JOINTS, **kw) -> TrajectoryGoal:
    return TrajectoryGoal(tuple(names), tuple(TrajectoryPoint(*p) for p in points), **kw)


def _rejected(ctrl, goal, now=0.0) -> GoalRejected:
    with pytest.raises(GoalRejected) as info:
        ctrl.validate(goal, now)
    return info.value


def _run(ctrl, goal_id, t0, t_end, plant=lambda cmd, q: cmd):
    """Drive the controller with a plant (default: perfect tracking) until the goal ends or t_end."""
    q = ctrl.status(goal_id).actual_positions.copy()
    t = t0
    while t < t_end and not ctrl.status(goal_id).done:
        t += DT
        q = np.asarray(plant(ctrl.update(t, q, np.zeros_like(q)), q), float)
    return ctrl.status(goal_id), q, t


def test_config_from_robot_and_validation():
    robot = get_robot("wx250s")
    cfg = TrajectoryControllerConfig.from_robot(robot)
    assert cfg.joints == robot.arm_joints and cfg.max_velocity[0] == pytest.approx(np.pi)
    with pytest.raises(ControllerConfigError, match="lower/upper"):
        TrajectoryControllerConfig(("a",), (1.0,), (0.0,), (1.0,))
    with pytest.raises(ControllerConfigError, match="goal_position_tolerance"):
        _config(goal_position_tolerance=0.0)
    with pytest.raises(ControllerConfigError, match="duplicate"):
        TrajectoryControllerConfig(("a", "a"), (0, 0), (1, 1), (1, 1))


@pytest.mark.parametrize("names, match", [(("a", "a"), "duplicate"), (("a", "c"), "unknown"), (("a",), "lacks")])
def test_bad_joint_names_are_invalid_joints(names, match):
    ctrl = _controller()
    err = _rejected(ctrl, _goal([(1.0, (0.1,) * len(names))], names=names))
    assert err.error_code == INVALID_JOINTS and match in str(err)


def test_empty_trajectory_is_invalid_goal():
    err = _rejected(_controller(), _goal([]))
    assert err.error_code == INVALID_GOAL and "empty" in str(err)


@pytest.mark.parametrize("points, match", [
    ([(1.0, (0.1, 0.1)), (1.0, (0.2, 0.2))], "strictly increase"),
    ([(1.0, (0.1, 0.1)), (0.5, (0.2, 0.2))], "strictly increase"),
    ([(-1.0, (0.1, 0.1))], ">= 0"),
    ([(1.0, (0.1,))], "expected 2 values"),
    ([(1.0, (0.1, 0.1), (0.0,))], "velocities: expected 2"),
    ([(1.0, (0.1, float("nan")))], "NaN"),
    ([(1.0, (0.1, float("inf")))], "NaN or inf"),
    ([(1.0, (1.5, 0.0))], "outside its limits"),
    ([(1.0, (0.1, 0.1), (1.5, 0.0))], "exceeds its velocity limit"),
    ([(1.0, (0.0, 0.0)), (1.1, (0.5, 0.0))], "over its velocity limit"),
])
def test_malformed_points_are_invalid_goal(points, match):
    err = _rejected(_controller(), _goal(points))
    assert err.error_code == INVALID_GOAL and match in str(err)


def test_old_header_timestamp():
    ctrl = _controller()
    err = _rejected(ctrl, _goal([(1.0, (0.1, 0.1))], header_stamp=5.0), now=10.0)
    assert err.error_code == OLD_HEADER_TIMESTAMP and "past" in str(err)
    # stamp zero = start now; a stamp whose trajectory ends in the future is fine
    assert ctrl.validate(_goal([(1.0, (0.1, 0.1))]), now=10.0).start_time is None
    assert ctrl.validate(_goal([(1.0, (0.1, 0.1))], header_stamp=9.5), now=10.0).start_time == 9.5


def test_unknown_joint_in_tolerances_rejected():
    err = _rejected(_controller(), _goal([(1.0, (0.1, 0.1))], goal_tolerance=(JointTolerance("z", 0.1),)))
    assert err.error_code == INVALID_JOINTS and "goal_tolerance" in str(err)


def test_goal_joint_order_is_reordered():
    ctrl = _controller()
    traj = ctrl.validate(_goal([(1.0, (0.3, -0.2), (0.1, 0.0))], names=("b", "a")), 0.0)
    np.testing.assert_allclose(traj.positions[0], [-0.2, 0.3])
    np.testing.assert_allclose(traj.velocities[0], [0.0, 0.1])


def test_tolerance_semantics_zero_default_negative_unchecked():
    ctrl = _controller(goal_position_tolerance=0.02)
    traj = ctrl.validate(_goal([(1.0, (0.1, 0.1))], goal_tolerance=(JointTolerance("a", 0.0), JointTolerance("b", -1.0)),
                               path_tolerance=(JointTolerance("b", 0.3),), goal_time_tolerance=0.0), 0.0)
    assert traj.goal_position_tolerance[0] == 0.02 and np.isinf(traj.goal_position_tolerance[1])
    assert np.isinf(traj.path_position_tolerance[0]) and traj.path_position_tolerance[1] == 0.3
    assert traj.goal_time_tolerance == ctrl.config.goal_time_tolerance


def test_sampling_linear_cubic_quintic_and_from_current_state():
    ctrl = _controller()
    lin = ctrl.validate(_goal([(1.0, (0.5, 1.0))]), 0.0)
    start = np.array([0.1, 0.0])
    s = sample_trajectory(lin, 0.5, start)
    np.testing.assert_allclose(s.positions, [0.3, 0.5])           # from the start state to the first point
    np.testing.assert_allclose(s.velocities, [0.4, 1.0])
    np.testing.assert_allclose(sample_trajectory(lin, -1.0, start).positions, start)
    np.testing.assert_allclose(sample_trajectory(lin, 5.0, start).positions, [0.5, 1.0])

    cubic = ctrl.validate(_goal([(0.0, (0.0, 0.0), (0.0, 0.0)), (2.0, (1.0, 1.0), (0.0, 0.0))]), 0.0)
    mid = sample_trajectory(cubic, 1.0, start)
    np.testing.assert_allclose(mid.positions, [0.5, 0.5])
    np.testing.assert_allclose(mid.velocities, [0.75, 0.75])     # 3/2 * distance / T for a rest-to-rest cubic
    quintic = ctrl.validate(_goal([(0.0, (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)),
                                   (2.0, (1.0, 1.0), (0.0, 0.0), (0.0, 0.0))]), 0.0)
    mid = sample_trajectory(quintic, 1.0, start)
    np.testing.assert_allclose(mid.positions, [0.5, 0.5])
    np.testing.assert_allclose(mid.velocities, [0.9375, 0.9375])  # 15/8 * distance / T for a rest-to-rest quintic
    end = sample_trajectory(quintic, 2.0 - 1e-9, start)
    np.testing.assert_allclose(end.positions, [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(end.velocities, [0.0, 0.0], atol=1e-6)


def test_goal_reached_with_perfect_tracking():
    ctrl = _controller()
    gid = ctrl.start(ctrl.validate(_goal([(0.5, (0.2, 0.4)), (1.0, (0.4, 0.8))]), 0.0), 0.0)
    status, q, t = _run(ctrl, gid, 0.0, 3.0)
    assert status.state is GoalState.SUCCEEDED and status.error_code == SUCCESSFUL
    np.testing.assert_allclose(q, [0.4, 0.8], atol=1e-9)
    assert t == pytest.approx(1.0, abs=2 * DT)
    np.testing.assert_allclose(ctrl.update(t + DT, q, [0, 0]), [0.4, 0.8])   # holds the end point


def test_path_tolerance_violation_aborts_and_holds():
    ctrl = _controller(path_position_tolerance=0.05)
    gid = ctrl.start(ctrl.validate(_goal([(1.0, (0.8, 0.0))]), 0.0), 0.0)
    stuck = lambda cmd, q: q  # noqa: E731  (a joint that does not move)
    status, q, _ = _run(ctrl, gid, 0.0, 2.0, stuck)
    assert status.state is GoalState.ABORTED and status.error_code == PATH_TOLERANCE_VIOLATED
    assert "a position error" in status.error_string
    np.testing.assert_allclose(ctrl.update(5.0, q, [0, 0]), q)


def test_goal_tolerance_violation_after_goal_time():
    ctrl = _controller(goal_time_tolerance=0.2)
    gid = ctrl.start(ctrl.validate(_goal([(0.5, (0.5, 0.0))]), 0.0), 0.0)
    short = lambda cmd, q: np.minimum(cmd, 0.3)  # noqa: E731  (blocked at 0.3 rad)
    status, _, t = _run(ctrl, gid, 0.0, 3.0, short)
    assert status.state is GoalState.ABORTED and status.error_code == GOAL_TOLERANCE_VIOLATED
    assert t == pytest.approx(0.7, abs=2 * DT) and "0.200 s after" in status.error_string


def test_preemption_aborts_the_old_goal_and_cancel_holds():
    ctrl = _controller()
    first = ctrl.start(ctrl.validate(_goal([(2.0, (0.8, 0.0))]), 0.0), 0.0)
    ctrl.update(0.5, [0.2, 0.0], [0.4, 0.0])
    second = ctrl.start(ctrl.validate(_goal([(2.0, (-0.5, 0.0))]), 0.5), 0.5)
    old = ctrl.status(first)
    assert old.state is GoalState.ABORTED and old.error_code == INVALID_GOAL and "preempted" in old.error_string
    assert ctrl.active_goal == second
    cmd = ctrl.update(1.0, [0.2, 0.0], [0.0, 0.0])
    assert cmd[0] < 0.2                                   # heading for -0.5 from the state at preemption
    canceled = ctrl.cancel(second)
    assert canceled.state is GoalState.CANCELED and ctrl.active_goal is None
    np.testing.assert_allclose(ctrl.update(1.5, [0.15, 0.0], [0, 0]), [0.2, 0.0])   # holds where it was canceled


def test_future_header_stamp_waits_at_start_state():
    ctrl = _controller()
    gid = ctrl.start(ctrl.validate(_goal([(1.0, (0.5, 0.0))], header_stamp=2.0), 0.0), 0.0)
    np.testing.assert_allclose(ctrl.update(1.0, [0.0, 0.0], [0, 0]), [0.0, 0.0])
    assert ctrl.status(gid).state is GoalState.ACTIVE
    np.testing.assert_allclose(ctrl.update(2.5, [0.0, 0.0], [0, 0]), [0.25, 0.0])
