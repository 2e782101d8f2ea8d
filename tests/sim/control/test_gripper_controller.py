"""Rules of the ROS-free gripper controller (gripper_action_controller semantics)."""
from __future__ import annotations

import pytest

from dexsim_sim.control.gripper_controller import (GripperController, GripperControllerConfig, GripperGoalError)
from dexsim_sim.control.trajectory_controller import ControllerConfigError, GoalState
from dexsim_sim.robots.registry import get_robot

DT = 0.01            # s
SPEED = 0.05         # m/s of the simulated fingers


def _drive(ctrl, goal_id, gap, t, blocked_at=None, t_end=5.0):
    """Fingers move towards the target at SPEED, optionally blocked (an object) at ``blocked_at``."""
    while not ctrl.status(goal_id).done and t < t_end:
        target = ctrl.target
        step = max(-SPEED * DT, min(SPEED * DT, target - gap))
        new_gap = gap + step
        if blocked_at is not None:
            new_gap = max(new_gap, blocked_at)
        rate = (new_gap - gap) / DT
        gap, t = new_gap, t + DT
        ctrl.update(t, gap, rate, effort=1.0)
    return ctrl.status(goal_id), gap, t


def test_config_from_robot_and_errors():
    cfg = GripperControllerConfig.from_robot(get_robot("wx250s"))
    assert (cfg.closed, cfg.open) == (0.030, 0.074)
    with pytest.raises(ControllerConfigError, match="closed/open"):
        GripperControllerConfig(closed=0.05, open=0.01)
    with pytest.raises(ControllerConfigError, match="stall_timeout"):
        GripperControllerConfig(closed=0.0, open=0.08, stall_timeout=0.0)


@pytest.mark.parametrize("position, effort, match", [(float("inf"), 1.0, "finite"),
                                                     (float("nan"), 1.0, "finite"), (0.04, -1.0, "max_effort")])
def test_bad_goals_rejected(position, effort, match):
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085))
    with pytest.raises(GripperGoalError, match=match):
        ctrl.start(position, effort, 0.0)
    assert ctrl.active_goal is None


def test_reaches_goal():
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085), initial_gap=0.085)
    gid = ctrl.start(0.03, 10.0, 0.0)
    status, gap, _ = _drive(ctrl, gid, 0.085, 0.0)
    assert status.state is GoalState.SUCCEEDED and status.reached_goal and not status.stalled
    assert status.position == pytest.approx(0.03, abs=0.002) and status.effort == 1.0


def test_stalls_on_an_object_and_keeps_squeezing():
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085, stall_timeout=0.3), initial_gap=0.085)
    gid = ctrl.start(0.0, 10.0, 0.0)
    status, gap, t = _drive(ctrl, gid, 0.085, 0.0, blocked_at=0.05)
    assert status.state is GoalState.SUCCEEDED and status.stalled and not status.reached_goal
    assert gap == pytest.approx(0.05)
    assert t == pytest.approx((0.085 - 0.05) / SPEED + 0.3, abs=0.05)
    assert ctrl.update(t + DT, gap, 0.0) == 0.0        # still commanding closed: the grip holds


def test_stall_aborts_when_not_allowed():
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085, allow_stalling=False), initial_gap=0.085)
    gid = ctrl.start(0.0, 10.0, 0.0)
    status, _, _ = _drive(ctrl, gid, 0.085, 0.0, blocked_at=0.05)
    assert status.state is GoalState.ABORTED and status.stalled


def test_preempt_and_cancel():
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085), initial_gap=0.085)
    first = ctrl.start(0.0, 0.0, 0.0)
    ctrl.update(0.1, 0.08, -0.05)
    second = ctrl.start(0.06, 0.0, 0.1)
    assert ctrl.status(first).state is GoalState.ABORTED and "preempted" in ctrl.status(first).message
    ctrl.update(0.2, 0.075, -0.05)
    assert ctrl.cancel(second).state is GoalState.CANCELED
    assert ctrl.update(0.3, 0.074, 0.0) == pytest.approx(0.075)   # holds the gap measured at cancel


def test_close_fully_on_a_gripper_that_stops_short_stalls_and_succeeds():
    """gripper_action_controller: position 0.0 on fingers whose range ends at 3 cm drives them to
    their limit (the commanded gap is clamped) and the goal succeeds stalled, not aborted."""
    ctrl = GripperController(GripperControllerConfig.from_robot(get_robot("wx250s"), stall_timeout=0.3),
                             initial_gap=0.074)
    gid = ctrl.start(0.0, 2.0, 0.0)
    assert ctrl.target == pytest.approx(0.030) and ctrl.max_effort == 2.0
    status, gap, _ = _drive(ctrl, gid, 0.074, 0.0)
    assert status.state is GoalState.SUCCEEDED and status.stalled and not status.reached_goal
    assert gap == pytest.approx(0.030)


def test_open_beyond_the_range_goes_to_the_open_limit():
    ctrl = GripperController(GripperControllerConfig(closed=0.0, open=0.085, stall_timeout=0.3), initial_gap=0.02)
    gid = ctrl.start(0.5, 0.0, 0.0)
    assert ctrl.target == 0.085
    status, gap, _ = _drive(ctrl, gid, 0.02, 0.0)
    assert status.state is GoalState.SUCCEEDED and status.stalled and gap == pytest.approx(0.085)
