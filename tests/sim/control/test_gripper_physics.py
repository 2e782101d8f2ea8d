"""The simulation's gripper interface in physics (no ROS): GripperCommand's ``max_effort`` limits the
finger motors, and "close fully" on the wx250s (fingers stop at 3 cm) ends stalled, not aborted."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.control.trajectory_controller import GoalState
from dexsim_sim.simulation import SimNodeConfig, Simulation


@pytest.fixture(scope="module")
def sim():
    return Simulation(SimNodeConfig(robot="wx250s", task="grasp", publish_images=False, seed=5))


def _close(sim, max_effort: float, seconds: float = 3.0):
    """Close fully with ``max_effort``; returns the final status and the peak finger effort (N)."""
    sim.reset(5)
    ctrl = sim.gripper_controllers[sim.spec.arms[0].name]
    goal = ctrl.start(0.0, max_effort, sim.time)
    n_arm, peak = len(sim.spec.arm_joints), 0.0
    for _ in range(int(seconds * sim.config.control_hz)):
        sim.update_controllers()
        sim.time = sim.step()
        peak = max(peak, float(np.abs(sim.read_joints().efforts[n_arm:]).max()))
        if ctrl.status(goal).done:
            break
    return ctrl.status(goal), peak


def test_close_fully_ends_stalled_at_the_finger_stop(sim):
    status, _ = _close(sim, 0.0)
    assert status.state is GoalState.SUCCEEDED and status.stalled and not status.reached_goal
    assert status.position == pytest.approx(sim.spec.gripper_closed, abs=0.004)


def test_max_effort_limits_the_finger_force(sim):
    _, free_peak = _close(sim, 0.0)          # the URDF's effort limit: the motors' own peak
    cap = 0.25 * free_peak
    status, capped_peak = _close(sim, cap)
    assert capped_peak <= cap * 1.01 + 1e-6 < free_peak
    assert status.position < sim.spec.gripper_open - 0.01     # still closes, more gently
