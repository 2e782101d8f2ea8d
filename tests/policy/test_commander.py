"""The shared action post-processing (policy chunk -> safe command) and the stamp synchronizer."""
import math

import numpy as np
import pytest

from dexsim_policy.commander import ActionCommander, CommandConfig, CommandedTrajectory
from dexsim_policy.errors import PolicyConfigError
from dexsim_policy.sync import ApproximateSync
from dexsim_sim.robots.registry import get_robot

ROBOT = get_robot("wx250s")
HOME = np.asarray(ROBOT.home)
ZERO_V = np.zeros(6)


def chunk(rows: np.ndarray, grip: float = 0.0) -> np.ndarray:
    rows = np.atleast_2d(rows)
    return np.hstack([rows, np.full((len(rows), 1), grip)])


@pytest.fixture
def commander():
    return ActionCommander.for_robot(ROBOT)


def test_calm_chunk_passes_unchanged(commander):
    rows = HOME + 0.01 * np.arange(1, 4)[:, None]
    cmd = commander.command(chunk(rows), HOME, ZERO_V)
    assert cmd.report.accepted and not cmd.report.modified
    np.testing.assert_allclose(cmd.positions, rows)
    np.testing.assert_allclose(cmd.times, [0.1, 0.2, 0.3])
    assert commander.counters["clipped"] == 0 and commander.counters["refused"] == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_actions_are_refused(commander, bad):
    rows = np.tile(HOME, (3, 1))
    rows[1, 2] = bad
    cmd = commander.command(chunk(rows, grip=bad), HOME, ZERO_V)
    assert not cmd.has_trajectory and not cmd.report.accepted
    assert cmd.gripper_position is None
    assert commander.counters["refused"] == 1 and commander.counters["gripper_refused"] == 1


def test_huge_actions_are_clipped_into_every_limit(commander):
    rows = HOME + 1e6 * np.random.default_rng(0).standard_normal((5, 6))
    cmd = commander.command(chunk(rows, grip=1e9), HOME, ZERO_V)
    assert commander.counters["clipped"] + commander.counters["refused"] == 1
    if cmd.has_trajectory:
        assert not any(commander.safety.check(HOME, cmd.times, cmd.positions).values())
    assert cmd.gripper_position == ROBOT.gripper_closed       # clipped closure 1 -> closed


def test_gripper_commands_only_on_state_change(commander):
    grips = [0.0, 0.1, 0.9, 0.95, 0.2]
    sent = [commander.command(chunk(HOME, g), HOME, ZERO_V).gripper_position for g in grips]
    assert sent == [ROBOT.gripper_open, None, ROBOT.gripper_closed, None, ROBOT.gripper_open]
    commander.reset()
    assert commander.command(chunk(HOME, 0.0), HOME, ZERO_V).gripper_position == ROBOT.gripper_open


def test_execute_steps_and_workspace_box():
    c = ActionCommander.for_robot(ROBOT, CommandConfig(execute_steps=2))
    cmd = c.command(chunk(np.tile(HOME, (5, 1))), HOME, ZERO_V)
    assert cmd.positions.shape == (2, 6)
    reach = c.safety.limits.workspace_max[0]
    assert 0.5 < reach < 1.0 and c.safety.limits.workspace_min[2] < 0


def test_commanded_trajectory_joins_chunks_without_jumps():
    track = CommandedTrajectory()
    assert track.state(0.0) is None
    track.set(10.0, np.zeros(2), np.array([0.1, 0.2]), np.array([[0.1, 0.0], [0.3, 0.0]]))
    q, v = track.state(10.05)
    np.testing.assert_allclose(q, [0.05, 0.0])
    np.testing.assert_allclose(v, [1.0, 0.0])
    q, v = track.state(10.15)
    np.testing.assert_allclose(q, [0.2, 0.0])
    np.testing.assert_allclose(v, [2.0, 0.0])
    q, v = track.state(11.0)
    np.testing.assert_allclose(q, [0.3, 0.0])
    np.testing.assert_allclose(v, [0.0, 0.0])


def test_config_errors_name_the_field():
    with pytest.raises(PolicyConfigError, match="action_dt_s=0"):
        CommandConfig(action_dt_s=0)
    with pytest.raises(PolicyConfigError, match="velocity_scale=2"):
        CommandConfig(velocity_scale=2)


def test_sync_matches_by_stamp_and_rejects_gaps():
    sync = ApproximateSync(("left", "right", "joints"), tolerance_s=0.02)
    assert sync.latest() is None
    for t in (1.0, 1.1, 1.2):
        sync.add("left", t, f"L{t}")
    sync.add("right", 1.1, "R1.1")
    sync.add("joints", 1.095, "J")
    sync.add("joints", 1.3, "J2")
    got = sync.latest()
    assert got.stamp == 1.1 and got.items["right"] == (1.1, "R1.1") and got.items["joints"] == (1.095, "J")
    assert got.oldest_stamp == 1.095
    sync.add("right", 1.2, "R1.2")          # no joint state within 20 ms of 1.2: falls back to 1.1
    assert sync.latest().stamp == 1.1
    assert sync.newest_stamps() == {"left": 1.2, "right": 1.2, "joints": 1.3}
    with pytest.raises(PolicyConfigError, match="unknown stream"):
        sync.add("depth", 1.0, None)
