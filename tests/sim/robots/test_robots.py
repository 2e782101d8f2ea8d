"""URDF files, registry and pure-numpy kinematics of every robot (checked against PyBullet)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.robots import description
from dexsim_sim.robots.gripper import DEFAULT_GRIPPER, ParallelGripperSpec
from dexsim_sim.robots.kinematics import KinematicChain, KinematicsError, arm_chain
from dexsim_sim.robots.registry import (BASE_LINK, UnknownArmError, UnknownRobotError, get_robot,
                                        gripper_joint_positions, list_robots)
from dexsim_sim.robots.transforms import (matrix_to_pose, matrix_to_quat, matrix_to_rpy, pose_to_matrix,
                                          quat_to_matrix, rotation_error, rpy_to_matrix)

ROBOTS = ["sr3", "aubo_i5", "wx250s", "wx250s_bimanual"]
REACH_MM = 1.0
# robots.md reach table: the end point at all-zero joints, base frame (m).
ZERO_POSE_POINTS = {
    ("sr3", "link6"): (0.0, 0.136, 1.0175),
    ("aubo_i5", "wrist3_Link"): (0.0, -0.2155, 1.0085),
    ("wx250s", "ee_gripper_link"): (0.458325, 0.0, 0.36065),
}


@pytest.fixture(scope="module")
def bullet():
    client = p.connect(p.DIRECT)
    yield client
    p.disconnect(client)


def _load(client: int, name: str) -> tuple[int, dict[str, int], dict[str, int]]:
    body = p.loadURDF(str(get_robot(name).urdf), useFixedBase=True, physicsClientId=client)
    joints, links = {}, {}
    for i in range(p.getNumJoints(body, physicsClientId=client)):
        info = p.getJointInfo(body, i, physicsClientId=client)
        joints[info[1].decode()] = i
        links[info[12].decode()] = i
    return body, joints, links


@pytest.mark.parametrize("name", ROBOTS)
def test_committed_urdf_is_up_to_date(name):
    assert get_robot(name).urdf.read_text() == description.generate(name), \
        "run: python -m dexsim_sim.robots.description"


@pytest.mark.parametrize("name", ROBOTS)
def test_urdf_is_a_consistent_tree_with_full_limits(name):
    root = ET.parse(str(get_robot(name).urdf)).getroot()
    links = {el.get("name") for el in root.findall("link")}
    children = []
    for joint in root.findall("joint"):
        parent, child = joint.find("parent").get("link"), joint.find("child").get("link")
        assert parent in links and child in links
        children.append(child)
        if joint.get("type") in ("revolute", "prismatic"):
            lim = joint.find("limit")
            assert float(lim.get("lower")) < float(lim.get("upper"))
            assert float(lim.get("velocity")) > 0 and float(lim.get("effort")) > 0
    assert len(children) == len(set(children))
    assert links - set(children) == {BASE_LINK}
    for link in root.findall("link"):
        assert float(link.find("inertial/mass").get("value")) > 0


@pytest.mark.parametrize("name", ROBOTS)
def test_pybullet_loads_every_joint_and_link(bullet, name):
    robot = get_robot(name)
    body, joints, links = _load(bullet, name)
    for joint in robot.arm_joints + robot.gripper_joints:
        assert joint in joints
    for arm in robot.arms:
        assert arm.ee_link in links
    p.removeBody(body, physicsClientId=bullet)


def test_registry_names_and_unknown_robot():
    assert sorted(r.name for r in list_robots()) == sorted(ROBOTS)
    with pytest.raises(UnknownRobotError, match="wx250s_bimanual"):
        get_robot("ur5")
    with pytest.raises(UnknownArmError, match="left"):
        get_robot("wx250s_bimanual").arm("middle")


def test_bimanual_spec_lists_both_arms_with_prefixes():
    robot = get_robot("wx250s_bimanual")
    left, right = robot.arms
    assert (left.name, right.name) == ("left", "right")
    assert (left.controller_prefix, right.controller_prefix) == ("/left", "/right")
    assert all(j.startswith("left_") for j in left.joints + left.gripper_joints + (left.ee_link,))
    assert all(j.startswith("right_") for j in right.joints + right.gripper_joints + (right.ee_link,))
    assert robot.arm_joints == left.joints + right.joints
    assert robot.ee_link == left.ee_link and len(robot.home) == 12


@pytest.mark.parametrize("name", ROBOTS)
def test_spec_limits_and_gripper_openings(name):
    robot = get_robot(name)
    for arm in robot.arms:
        chain = arm_chain(robot, arm.name)
        assert chain.within_limits(robot.home_of(arm))
        for opening in (robot.gripper_closed, robot.gripper_open):
            fingers = gripper_joint_positions(robot, opening, arm.name)
            gap = sum(abs(v) for v in fingers.values())
            assert gap == pytest.approx(opening, abs=1e-9)
            for joint, value in fingers.items():
                lim = robot.limits[joint]
                assert lim.lower - 1e-12 <= value <= lim.upper + 1e-12


@pytest.mark.parametrize(("name", "link"), list(ZERO_POSE_POINTS))
def test_fk_at_zero_matches_reach_table(name, link):
    robot = get_robot(name)
    chain = arm_chain(robot)
    point = chain.fk_link(np.zeros(chain.dof), link)[:3, 3]
    assert np.abs(point - ZERO_POSE_POINTS[(name, link)]).max() * 1000 < REACH_MM


@pytest.mark.parametrize(("name", "flange"), [("sr3", "link6"), ("aubo_i5", "wrist3_Link")])
def test_tcp_sits_tcp_offset_along_flange_z(name, flange):
    chain = arm_chain(get_robot(name))
    q = np.random.default_rng(0).uniform(chain.lower, chain.upper)
    flange_tf, tcp_tf = chain.fk_link(q, flange), chain.fk(q)
    expected = flange_tf[:3, 3] + flange_tf[:3, 2] * DEFAULT_GRIPPER.tcp_offset
    np.testing.assert_allclose(tcp_tf[:3, 3], expected, atol=1e-9)
    np.testing.assert_allclose(tcp_tf[:3, 0], flange_tf[:3, 2], atol=1e-9)  # approach = flange z


def test_bimanual_arms_face_each_other_0p8_m_apart():
    robot = get_robot("wx250s_bimanual")
    left = arm_chain(robot, "left").fk_link(np.zeros(6), "left_base_link")
    right = arm_chain(robot, "right").fk_link(np.zeros(6), "right_base_link")
    assert np.linalg.norm(left[:3, 3] - right[:3, 3]) == pytest.approx(0.8)
    np.testing.assert_allclose(left[:3, 0], -right[:3, 0], atol=1e-9)
    np.testing.assert_allclose(left[:3, 0], (right[:3, 3] - left[:3, 3]) / 0.8, atol=1e-9)


@pytest.mark.parametrize("name", ROBOTS)
def test_numpy_fk_equals_pybullet_fk(bullet, name):
    robot = get_robot(name)
    body, joints, links = _load(bullet, name)
    rng = np.random.default_rng(7)
    for arm in robot.arms:
        chain = arm_chain(robot, arm.name)
        for q in rng.uniform(chain.lower, chain.upper, size=(5, chain.dof)):
            for joint, value in zip(arm.joints, q):
                p.resetJointState(body, joints[joint], value, physicsClientId=bullet)
            state = p.getLinkState(body, links[arm.ee_link], computeForwardKinematics=True,
                                   physicsClientId=bullet)
            tf = chain.fk(q)
            np.testing.assert_allclose(tf[:3, 3], state[4], atol=1e-6)
            assert np.linalg.norm(rotation_error(quat_to_matrix(state[5]), tf[:3, :3])) < 1e-5
    p.removeBody(body, physicsClientId=bullet)


@pytest.mark.parametrize("name", ["sr3", "aubo_i5", "wx250s"])
def test_jacobian_matches_finite_differences(name):
    chain = arm_chain(get_robot(name))
    q = np.random.default_rng(3).uniform(chain.lower, chain.upper) * 0.8
    tf, jac = chain.fk_and_jacobian(q)
    step = 1e-6
    for i in range(chain.dof):
        dq = np.zeros(chain.dof)
        dq[i] = step
        tf2 = chain.fk(q + dq)
        np.testing.assert_allclose((tf2[:3, 3] - tf[:3, 3]) / step, jac[:3, i], atol=1e-5)
        np.testing.assert_allclose(rotation_error(tf2[:3, :3], tf[:3, :3]) / step, jac[3:, i], atol=1e-5)


def test_batched_fk_equals_single_fk():
    chain = arm_chain(get_robot("sr3"))
    qs = np.random.default_rng(1).uniform(chain.lower, chain.upper, size=(4, 6))
    batch = chain.fk(qs)
    for q, tf in zip(qs, batch):
        np.testing.assert_allclose(chain.fk(q), tf, atol=1e-12)
    with pytest.raises(KinematicsError, match="q: expected shape"):
        chain.fk(np.zeros(5))
    with pytest.raises(KinematicsError, match="not on the chain"):
        chain.fk_link(np.zeros(6), "left_finger_link")
    with pytest.raises(KinematicsError, match="no chain"):
        KinematicChain.from_urdf(get_robot("sr3").urdf, "base_link", "nowhere")


def test_transforms_round_trip():
    rng = np.random.default_rng(5)
    for _ in range(20):
        rpy = rng.uniform(-1.5, 1.5, 3)
        rot = rpy_to_matrix(rpy)
        np.testing.assert_allclose(matrix_to_rpy(rot), rpy, atol=1e-9)
        np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(rot)), rot, atol=1e-9)
        pose = np.concatenate([rng.normal(size=3), matrix_to_quat(rot)])
        np.testing.assert_allclose(matrix_to_pose(pose_to_matrix(pose)), pose, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(rotation_error(rpy_to_matrix((np.pi, 0, 0)), np.eye(3))), np.pi)


def test_gripper_spec_validation_names_the_field():
    with pytest.raises(ValueError, match="stroke"):
        ParallelGripperSpec(stroke=-0.01)
    with pytest.raises(ValueError, match="palm_width"):
        ParallelGripperSpec(stroke=0.2)
