"""Joint-space planning with OMPL RRT-Connect and PyBullet collision checks."""
from __future__ import annotations

import numpy as np
import pybullet as p
import pybullet_data
import pytest

from dexsim_sim.robots.kinematics import arm_chain
from dexsim_sim.robots.registry import get_robot, gripper_joint_positions
from dexsim_sim.skills.planner import CollisionChecker, CollisionConfig, PlannerConfig, PlanningError, plan_path

DENSE_RESOLUTION = 0.005  # rad, finer than the planner's own edge checks
SWING = 1.0               # rad of joint 1 either side of home


@pytest.fixture()
def world():
    client = p.connect(p.DIRECT)
    p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
    plane = p.loadURDF("plane.urdf", physicsClientId=client)
    yield client, plane
    p.disconnect(client)


def _robot(client: int, name: str) -> tuple[int, list[int]]:
    robot = get_robot(name)
    body = p.loadURDF(str(robot.urdf), useFixedBase=True, physicsClientId=client)
    index = {p.getJointInfo(body, i, physicsClientId=client)[1].decode(): i
             for i in range(p.getNumJoints(body, physicsClientId=client))}
    for arm in robot.arms:
        for joint, value in gripper_joint_positions(robot, robot.gripper_open, arm.name).items():
            p.resetJointState(body, index[joint], value, physicsClientId=client)
    return body, [index[j] for j in robot.arm_joints]


def _box_at(client: int, position, half_extents=(0.05, 0.05, 0.2)) -> int:
    shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half_extents, physicsClientId=client)
    return p.createMultiBody(0, shape, basePosition=list(position), physicsClientId=client)


@pytest.mark.parametrize("name", ["sr3", "aubo_i5", "wx250s", "wx250s_bimanual"])
def test_home_pose_is_free_of_self_and_ground_collisions(world, name):
    client, plane = world
    body, joints = _robot(client, name)
    checker = CollisionChecker(client, body, joints, [plane])
    assert checker.colliding_pairs(get_robot(name).home) == []


def test_box_between_start_and_goal_is_planned_around(world):
    client, plane = world
    robot = get_robot("sr3")
    body, joints = _robot(client, "sr3")
    home = np.array(robot.home)
    box = _box_at(client, arm_chain(robot).fk(home)[:3, 3])
    checker = CollisionChecker(client, body, joints, [plane, box])
    start, goal = home.copy(), home.copy()
    start[0], goal[0] = -SWING, SWING
    assert not checker.edge_free(start, goal, DENSE_RESOLUTION)
    result = plan_path(checker, start, goal, PlannerConfig(seed=3))
    assert not result.straight_line
    np.testing.assert_array_equal(result.path[0], start)
    np.testing.assert_array_equal(result.path[-1], goal)
    for a, b in zip(result.path[:-1], result.path[1:]):
        assert checker.edge_free(a, b, DENSE_RESOLUTION)


def test_free_straight_line_is_used_directly(world):
    client, plane = world
    robot = get_robot("wx250s")
    body, joints = _robot(client, "wx250s")
    checker = CollisionChecker(client, body, joints, [plane])
    goal = np.array(robot.home) + np.array([0.5, 0.1, 0.0, 0.0, 0.0, 0.3])
    result = plan_path(checker, robot.home, goal)
    assert result.straight_line and result.path.shape == (2, 6)


def test_start_and_goal_in_collision_raise_named_errors(world):
    client, plane = world
    robot = get_robot("sr3")
    body, joints = _robot(client, "sr3")
    home = np.array(robot.home)
    box = _box_at(client, arm_chain(robot).fk(home)[:3, 3])
    checker = CollisionChecker(client, body, joints, [plane, box])
    away = home.copy()
    away[0] = SWING
    with pytest.raises(PlanningError, match="start in collision") as info:
        plan_path(checker, home, away)
    assert info.value.reason == "start_in_collision"
    assert f"body {box}" in info.value.detail
    with pytest.raises(PlanningError) as info:
        plan_path(checker, away, home)
    assert info.value.reason == "goal_in_collision"


def test_self_collision_is_detected_and_inputs_validated(world):
    client, _ = world
    body, joints = _robot(client, "sr3")
    checker = CollisionChecker(client, body, joints)
    folded = np.array([0.0, 2.2, 2.3, 0.0, 2.5, 0.0])   # forearm and wrist fold back onto the upper arm/base
    assert checker.in_collision(folded)
    assert any("link" in a for a, _ in checker.colliding_pairs(folded))
    with pytest.raises(PlanningError) as info:
        plan_path(checker, np.zeros(5), np.zeros(6))
    assert info.value.reason == "invalid_input"
    with pytest.raises(ValueError, match="ignore_hops"):
        CollisionConfig(ignore_hops=0)
    with pytest.raises(ValueError, match="timeout_s"):
        PlannerConfig(timeout_s=0.0)
