"""Fault specifications for the sim node (dexsim_sim.faults): parsing, refusals, the delay line."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.control.trajectory_controller import (PATH_TOLERANCE_VIOLATED, GoalState, JointTrajectoryController,
                                                      TrajectoryControllerConfig, TrajectoryGoal, TrajectoryPoint)
from dexsim_sim.faults import FAULT_KINDS, DelayLine, FaultError, parse_fault
from dexsim_sim.robots.registry import get_robot


def test_every_kind_parses_and_says_what_it_stops():
    faults = {k: parse_fault(k if k != "delay_images" else "delay_images:0.5") for k in FAULT_KINDS}
    assert parse_fault("") == faults["none"] and str(faults["delay_images"]) == "delay_images:0.5"
    assert [k for k, f in faults.items() if not f.publishes_images] == ["freeze_cameras"]
    assert [k for k, f in faults.items() if not f.publishes_joint_states] == ["drop_joint_states"]
    assert [k for k, f in faults.items() if not f.runs_controllers] == ["stall_controllers"]
    assert [k for k, f in faults.items() if f.aborts_goals] == ["abort_goals"]
    assert faults["delay_images"].delay_s == 0.5 and faults["none"].delay_s == 0.0


@pytest.mark.parametrize("text, fragment", [
    ("melt", "unknown fault 'melt'"), ("delay_images", "needs a delay"), ("delay_images:x", "needs a delay"),
    ("delay_images:0", "0 < S"), ("delay_images:nan", "0 < S"), ("delay_images:1e9", "0 < S"),
    ("freeze_cameras:3", "takes no argument")])
def test_bad_faults_are_named(text, fragment):
    with pytest.raises(FaultError, match="^fault: ") as info:
        parse_fault(text)
    assert fragment in str(info.value)


def test_the_delay_line_releases_items_delay_seconds_later_in_order():
    line = DelayLine()
    for t in (0.0, 0.1, 0.2, 0.3):
        line.push(t, f"frame@{t}")
    assert line.due(0.4, 0.5) == []
    assert line.due(0.6, 0.5) == ["frame@0.0", "frame@0.1"]
    assert line.due(0.8, 0.5) == ["frame@0.2", "frame@0.3"] and len(line) == 0


def test_abort_active_aborts_and_holds_the_measured_position():
    spec = get_robot("wx250s")
    ctrl = JointTrajectoryController(TrajectoryControllerConfig.from_robot(spec))
    q = np.asarray(spec.home, dtype=float)
    ctrl.reset(q, now=0.0)
    target = q + 0.05
    goal_id = ctrl.start(ctrl.validate(TrajectoryGoal(tuple(spec.arm_joints), (TrajectoryPoint(1.0, tuple(target)),)), 0.0), 0.0)
    ctrl.update(0.1, q + 0.01, np.zeros_like(q))
    ctrl.abort_active("aborted: fault abort_goals injected")
    status = ctrl.status(goal_id)
    assert status.state is GoalState.ABORTED and status.error_code == PATH_TOLERANCE_VIOLATED
    np.testing.assert_allclose(ctrl.update(0.2, q + 0.01, np.zeros_like(q)), q + 0.01)
    ctrl.abort_active("nothing active")                      # no active goal: nothing happens
