"""The policy controller (the one execution path of the node and the in-process evaluation):
chunk rows timed from the observation stamp, time-keyed temporal ensembling, safety."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_policy.commander import CommandConfig
from dexsim_policy.controller import ChunkBlender, PolicyController, joint_observation
from dexsim_policy.errors import PolicyConfigError
from dexsim_sim.robots.registry import get_robot

ROBOT = get_robot("wx250s")
HOME = np.asarray(ROBOT.home)
DT = 0.1


class FixedRuntime:
    """Stands in for PolicyRuntime where the model does not matter: returns a given chunk."""

    def __init__(self, chunk):
        self.chunk = np.asarray(chunk, float)
        self.config = None
        self.resets = 0

    def reset(self):
        self.resets += 1

    def act_chunk(self, obs):
        self.predictions = getattr(self, "predictions", 0) + 1
        return self.chunk

    def observe(self, obs):
        self.observed = getattr(self, "observed", 0) + 1


def ramp(start, step, rows=5, grip=0.0):
    q = np.asarray(start, float)[None] + step * np.arange(1, rows + 1)[:, None] * np.ones(6)
    return np.column_stack([q, np.full(rows, grip)])


def controller(chunk, coeff=None):
    return PolicyController.for_robot(ROBOT, FixedRuntime(chunk), CommandConfig(action_dt_s=DT), coeff)


def test_rows_are_timed_from_the_stamp_and_past_rows_dropped():
    chunk = ramp(HOME, 0.001)          # slow enough that no limit clips it
    c = controller(chunk)
    r = c.command_chunk(chunk, stamp=10.0, now=10.0, q_measured=HOME)
    assert np.allclose(r.knots, 10.0 + DT * np.arange(1, 6)) and np.allclose(r.command.times, DT * np.arange(1, 6))
    c.reset()
    late = c.command_chunk(chunk, stamp=10.0, now=10.25, q_measured=HOME)   # 250 ms of latency
    assert np.allclose(late.command.times, [0.05, 0.15, 0.25])
    assert np.allclose(late.command.positions, chunk[2:, :6])                # rows 0 and 1 were due already
    c.reset()
    assert c.command_chunk(chunk, stamp=10.0, now=11.0, q_measured=HOME).command is None


def test_consecutive_commands_join_at_the_commanded_position():
    chunk = ramp(HOME, 0.01)
    c = controller(chunk)
    c.command_chunk(chunk, 0.0, 0.0, HOME)
    q_commanded, _ = c.tracker.state(0.05)
    second = c.command_chunk(chunk, 0.05, 0.05, HOME + 0.3)   # a far-off measurement does not make a jump
    assert second.command.report.accepted
    assert np.allclose(c.tracker.q_start, q_commanded)


def test_blender_weights_chunks_by_age_at_the_same_absolute_time():
    b = ChunkBlender(coeff=0.0)                                 # equal weights: the plain mean
    b.add(np.array([1.0, 2.0, 3.0]), np.array([[0.0], [0.0], [0.0]]), now=0.0)
    out = b.add(np.array([2.0, 3.0, 4.0]), np.array([[1.0], [1.0], [1.0]]), now=1.5)
    assert np.allclose(out[:, 0], [0.5, 0.5, 1.0])             # t = 4 only the new chunk covers
    b = ChunkBlender(coeff=np.log(3.0))                         # weights 1 (older), 1/3 (newer)
    b.add(np.array([1.0, 2.0]), np.array([[0.0], [0.0]]), now=0.0)
    out = b.add(np.array([1.5, 2.0]), np.array([[4.0], [4.0]]), now=1.0)
    assert np.allclose(out[:, 0], [1.0, 1.0])                  # (0 * 1 + 4 / 3) / (4 / 3)
    out = b.add(np.array([3.0, 4.0]), np.array([[2.0], [2.0]]), now=2.5)  # older chunks expired
    assert np.allclose(out[:, 0], [2.0, 2.0])


def test_ensembled_controller_is_latency_invariant_in_absolute_time():
    chunk = ramp(HOME, 0.01)
    a, b = controller(chunk, coeff=0.01), controller(chunk, coeff=0.01)
    for k in range(3):
        ra = a.command_chunk(chunk + 0.001 * k, 0.1 * k, 0.1 * k, HOME)
        rb = b.command_chunk(chunk + 0.001 * k, 0.1 * k, 0.1 * k + 0.03, HOME)
    assert np.allclose(ra.rows, rb.rows)


def test_unsafe_rows_are_clipped_and_bad_chunks_refused():
    wild = ramp(HOME, 5.0)
    c = controller(wild)
    r = c.command_chunk(wild, 0.0, 0.0, HOME)
    lo = np.array([ROBOT.limits[j].lower for j in ROBOT.arm_joints])
    hi = np.array([ROBOT.limits[j].upper for j in ROBOT.arm_joints])
    assert r.command.report.modified or not r.command.report.accepted
    assert np.all(r.command.positions >= lo - 1e-9) and np.all(r.command.positions <= hi + 1e-9)
    with pytest.raises(PolicyConfigError):
        c.command_chunk(np.zeros((0, 7)), 0.0, 0.0, HOME)


def test_watchdog_names_stale_inputs_and_reset_clears_state():
    c = controller(ramp(HOME, 0.01))
    assert c.inputs_fresh({"left": 9.8, "joints": 9.0, "right": None}, now=10.0) == ["joints", "right"]
    c.command_chunk(c.runtime.chunk, 0.0, 0.0, HOME)
    c.reset()
    assert c.tracker.state(0.0) is None and c.runtime.resets == 1


def test_joint_observation_reads_the_arm_and_the_finger_gap():
    names = list(ROBOT.gripper_joints) + list(ROBOT.arm_joints)
    positions = [0.02, -0.015] + list(HOME)
    q, gap = joint_observation(names, positions, ROBOT.arm_joints, ROBOT.gripper_joints)
    assert np.allclose(q, HOME) and gap == pytest.approx(0.035)
    assert joint_observation(names[:-1], positions[:-1], ROBOT.arm_joints, ROBOT.gripper_joints) is None


class _Cfg:
    def __init__(self, width):
        self.action_indices = tuple(range(width))


def test_arms_controller_splits_one_chunk_into_each_arms_command():
    """Bimanual: one inference, each arm's 6 joints + gripper columns through its own controller,
    exactly what a one-arm controller of that arm sends for those columns."""
    from dexsim_policy.controller import make_arms_controller, make_controller

    robot = get_robot("wx250s_bimanual")
    left, right = robot.arms
    q_left, q_right = np.asarray(robot.home_of(left)), np.asarray(robot.home_of(right))
    chunk = np.column_stack([ramp(q_left, 0.002, grip=1.0), ramp(q_right, -0.002, grip=0.0)])
    runtime = FixedRuntime(chunk)
    runtime.config = _Cfg(14)
    arms = make_arms_controller(runtime, robot, ensemble_coeff=None)
    assert arms.names == [left.name, right.name] and arms.width == 14
    results = arms.step({}, stamp=5.0, now=5.02, q_measured=[q_left, q_right])
    for arm, q0, cols, result in zip((left, right), (q_left, q_right), (slice(0, 7), slice(7, 14)), results):
        alone = make_controller(runtime, robot, ensemble_coeff=None, arm=arm.name)
        expected = alone.command_chunk(chunk[:, cols], 5.0, 5.02, q0).command
        assert np.allclose(result.command.positions, expected.positions)
        assert np.allclose(result.command.times, expected.times)
        assert result.command.gripper_position == expected.gripper_position
    assert results[0].command.gripper_position != results[1].command.gripper_position   # closed vs open
    assert arms.counters["commands"] == 2


def test_arms_controller_covers_the_arms_its_columns_name():
    from dexsim_policy.controller import make_arms_controller

    robot = get_robot("wx250s_bimanual")
    one = FixedRuntime(ramp(robot.home_of(robot.arms[0]), 0.001))
    one.config = _Cfg(7)
    assert make_arms_controller(one, robot, ensemble_coeff=None).names == [robot.arms[0].name]
    odd = FixedRuntime(np.zeros((5, 10)))
    odd.config = _Cfg(10)
    with pytest.raises(PolicyConfigError, match="10 action columns"):
        make_arms_controller(odd, robot)
    arms = make_arms_controller(one, robot, ensemble_coeff=None)
    with pytest.raises(PolicyConfigError, match=r"expected \(Ta, 7\)"):
        arms.command_chunk(np.zeros((5, 14)), 0.0, 0.0, [np.zeros(6)])


def test_observation_holds_every_arm_as_the_data_engine_records_it():
    from dexsim_policy.controller import arms_observation, policy_observation

    robot = get_robot("wx250s_bimanual")
    names = list(robot.gripper_joints) + list(robot.arm_joints)
    positions = [0.02, -0.015, 0.03, -0.03] + list(robot.home)
    q, gaps = arms_observation(names, positions, robot.arms)
    assert np.allclose(np.concatenate(q), robot.home) and gaps == pytest.approx([0.035, 0.06])
    obs = policy_observation(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), q, gaps)
    assert obs["joint_pos"].shape == (12,) and np.allclose(obs["gripper_arms"], [0.035, 0.06])
    assert np.allclose(obs["gripper"], [0.035])
    assert arms_observation(names[1:], positions[1:], robot.arms)[1] == pytest.approx([0.015, 0.06])
    assert arms_observation(names[:-1], positions[:-1], robot.arms) is None


def test_receding_horizon_executes_the_chunk_before_replanning():
    """Diffusion's execution (Chi et al.): predict Ta rows, execute them, re-plan; the frames in
    between only extend the observation history. The node and the in-process evaluation both go
    through ArmsController.infer, so both re-plan on the same frames."""
    from dexsim_policy.controller import make_arms_controller

    runtime = FixedRuntime(ramp(HOME, 0.001, rows=4))
    runtime.config, runtime.default_replan_steps = _Cfg(7), 4
    arms = make_arms_controller(runtime, ROBOT, ensemble_coeff=None)
    assert arms.replan_steps == 4
    planned = [bool(arms.step({}, stamp=t, now=t + 0.01, q_measured=[HOME])) for t in DT * np.arange(10)]
    assert planned == [True, False, False, False] * 2 + [True, False]
    assert runtime.predictions == 3 and runtime.observed == 7
    arms.reset()                                        # a new episode plans on its first frame
    assert arms.due(123.0)
    every = make_arms_controller(runtime, ROBOT, ensemble_coeff=None, replan_steps=1)
    assert all(every.step({}, stamp=t, now=t, q_measured=[HOME]) for t in DT * np.arange(3))
    with pytest.raises(PolicyConfigError, match="replan_steps"):
        make_arms_controller(runtime, ROBOT, replan_steps=-2)


def test_runtime_replans_as_each_policy_was_designed():
    from dexsim_policy.models.configuration_act import ACTConfig
    from dexsim_policy.models.configuration_diffusion import DiffusionConfig
    from dexsim_policy.models.modeling_act import ACTPolicy
    from dexsim_policy.models.modeling_diffusion import DiffusionPolicy
    from dexsim_policy.runtime import PolicyRuntime

    act = PolicyRuntime(ACTPolicy(ACTConfig(color_jitter=None)))
    diffusion = PolicyRuntime(DiffusionPolicy(DiffusionConfig(color_jitter=None, n_action_steps=6)))
    assert act.default_replan_steps == 1 and diffusion.default_replan_steps == 6
