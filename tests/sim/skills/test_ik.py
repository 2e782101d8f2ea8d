"""Numerical IK: round trips over seeded reachable poses for every arm, unreachable poses raise."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dexsim_sim.robots.kinematics import arm_chain
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.robots.transforms import axis_angle_to_matrix, matrix_to_pose, rotation_angle
from dexsim_sim.skills.ik import IKConfig, IKSolver, UnreachablePoseError, solve_ik

ARMS = [("sr3", ""), ("aubo_i5", ""), ("wx250s", ""), ("wx250s_bimanual", "left"), ("wx250s_bimanual", "right")]
POSES_PER_ARM = 10


@pytest.mark.parametrize(("name", "arm"), ARMS)
def test_ik_round_trip_on_reachable_poses(name, arm):
    robot = get_robot(name)
    chain = arm_chain(robot, arm)
    solver = IKSolver(chain, IKConfig(seed=1))
    targets = chain.fk(np.random.default_rng(11).uniform(chain.lower, chain.upper, size=(POSES_PER_ARM, chain.dof)))
    for target in targets:
        result = solver.solve(target, q_current=robot.home_of(robot.arm(arm)))
        reached = chain.fk(result.q)
        assert np.linalg.norm(reached[:3, 3] - target[:3, 3]) < 1e-3
        assert math.degrees(rotation_angle(reached[:3, :3], target[:3, :3])) < 1.0
        assert chain.within_limits(result.q)


def test_pose_three_metres_away_raises_with_residual():
    robot = get_robot("sr3")
    target = np.eye(4)
    target[:3, 3] = (3.0, 0.0, 0.5)
    with pytest.raises(UnreachablePoseError) as info:
        solve_ik(robot, target, config=IKConfig(num_seeds=4, max_iterations=60))
    assert info.value.position_error > 2.0
    np.testing.assert_allclose(info.value.pose, target)
    assert "unreachable" in str(info.value)


def test_solution_prefers_the_current_configuration_and_accepts_7_vectors():
    robot = get_robot("wx250s")
    chain = arm_chain(robot)
    q_true = np.array([0.3, -0.2, 0.4, 0.1, 0.8, -0.2])
    target = matrix_to_pose(chain.fk(q_true))
    result = solve_ik(robot, target, q_current=q_true + 0.05)
    np.testing.assert_allclose(result.q, q_true, atol=1e-2)


def test_ik_is_reproducible_from_the_seed():
    robot = get_robot("aubo_i5")
    chain = arm_chain(robot)
    target = chain.fk(np.array([0.5, 0.3, 1.2, -0.4, 1.0, 0.2]))
    a = solve_ik(robot, target, config=IKConfig(seed=3))
    b = solve_ik(robot, target, config=IKConfig(seed=3))
    np.testing.assert_array_equal(a.q, b.q)


def test_position_only_ignores_orientation():
    robot = get_robot("sr3")
    chain = arm_chain(robot)
    target = chain.fk(np.array(robot.home))
    result = solve_ik(robot, target[:3, 3].tolist() + [0.0, 0.0, 0.0, 1.0], position_only=True)
    assert np.linalg.norm(chain.fk(result.q)[:3, 3] - target[:3, 3]) < 1e-3


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="num_seeds"):
        IKConfig(num_seeds=0)
    with pytest.raises(ValueError, match="damping"):
        IKConfig(damping=-1.0)


CARTESIAN_STEPS = 20
STEP_TRANSLATION = np.array([0.004, -0.003, -0.004])   # m per step
STEP_ROTATION_DEG = 1.0                                 # per step, about a fixed tilted axis
MAX_STEP_JOINT_CHANGE = 0.1                             # rad, a small Cartesian step must stay a small joint step


@pytest.mark.parametrize(("name", "arm"), ARMS)
def test_small_cartesian_steps_give_small_joint_steps(name, arm):
    robot = get_robot(name)
    chain = arm_chain(robot, arm)
    solver = IKSolver(chain, IKConfig(seed=2))
    q = np.array(robot.home_of(robot.arm(arm)))
    pose = chain.fk(q)
    step = np.eye(4)
    step[:3, :3] = axis_angle_to_matrix(np.array([1.0, 1.0, 1.0]) / math.sqrt(3.0), math.radians(STEP_ROTATION_DEG))
    for _ in range(CARTESIAN_STEPS):
        pose = pose.copy()
        pose[:3, :3] = pose[:3, :3] @ step[:3, :3]
        pose[:3, 3] += STEP_TRANSLATION
        q_next = solver.solve(pose, q_current=q, max_joint_jump=MAX_STEP_JOINT_CHANGE).q
        assert np.max(np.abs(q_next - q)) <= MAX_STEP_JOINT_CHANGE
        assert np.linalg.norm(chain.fk(q_next)[:3, 3] - pose[:3, 3]) < 1e-3
        q = q_next


def test_the_current_branch_wins_over_random_seeds_that_converge_first():
    # foreArm_joint 0.05 rad inside its limit: clipping slows the q_current seed, and a random seed
    # in another branch converges earlier; the solver must still return the q_current branch
    robot = get_robot("aubo_i5")
    chain = arm_chain(robot)
    q_true = np.array([1.289, 0.251, 3.004, -0.556, -1.022, 2.282])
    q_current = q_true + np.array([0.231, 0.654, -0.326, -0.114, 0.108, -0.232])
    result = IKSolver(chain, IKConfig()).solve(chain.fk(q_true), q_current=q_current)
    np.testing.assert_allclose(result.q, q_true, atol=1e-2)


def test_max_joint_jump_rejects_a_far_branch_with_a_reason():
    robot = get_robot("aubo_i5")
    chain = arm_chain(robot)
    home = np.array(robot.home)
    far = chain.fk(np.array([2.0, 0.4, 1.0, -1.0, -1.0, 1.5]))
    with pytest.raises(UnreachablePoseError, match="max_joint_jump") as info:
        IKSolver(chain, IKConfig(seed=0)).solve(far, q_current=home, max_joint_jump=0.2)
    assert info.value.reason and np.max(np.abs(info.value.best_q - home)) > 0.2
    with pytest.raises(ValueError, match="max_joint_jump"):
        IKSolver(chain).solve(far, max_joint_jump=0.2)
