"""The per-robot gripper adapter: the vendor's interface and its unit conversion (no ROS)."""
from __future__ import annotations

import math

import pytest

from dexsim_sim.control.gripper_interface import (FOLLOW_JOINT_TRAJECTORY, GRIPPER_COMMAND, GripperInterface,
                                                  GripperInterfaceError, gripper_interface)
from dexsim_sim.robots.registry import get_robot, gripper_joint_positions


def test_interbotix_gripper_is_a_trajectory_on_left_finger_at_half_the_gap():
    wx = get_robot("wx250s")
    finger = gripper_interface("wx250s")
    assert (finger.kind, finger.joint, finger.action) == (FOLLOW_JOINT_TRAJECTORY, "left_finger",
                                                          "/gripper_controller/follow_joint_trajectory")
    for gap in (wx.gripper_closed, 0.05, wx.gripper_open):
        # the same finger value the simulation sets for that gap, and back
        assert finger.joint_position(gap) == pytest.approx(gripper_joint_positions(wx, gap)["left_finger"])
        assert finger.gap(finger.joint_position(gap)) == pytest.approx(gap)
    # the URDF's finger range (0.015 .. 0.037 m) is the gripper's gap range halved
    lim = wx.limits["left_finger"]
    assert (finger.gap(lim.lower), finger.gap(lim.upper)) == pytest.approx((wx.gripper_closed, wx.gripper_open))


def test_bimanual_arms_name_their_own_finger_joint():
    robot = get_robot("wx250s_bimanual")
    joints = [gripper_interface(robot.name).for_arm(a.gripper_joints).joint for a in robot.arms]
    assert joints == ["left_left_finger", "right_left_finger"]


@pytest.mark.parametrize("robot", ["sr3", "aubo_i5"])
def test_industrial_arms_take_gripper_command_on_the_gap(robot):
    iface = gripper_interface(robot)
    assert iface.kind == GRIPPER_COMMAND and iface.action == "/gripper_controller/gripper_cmd"
    assert iface.for_arm(("a", "b")) is iface


def test_forcing_and_errors():
    assert gripper_interface("wx250s", GRIPPER_COMMAND).kind == GRIPPER_COMMAND
    with pytest.raises(GripperInterfaceError, match="has no 'follow_joint_trajectory'"):
        gripper_interface("sr3", FOLLOW_JOINT_TRAJECTORY)
    with pytest.raises(GripperInterfaceError, match="kind 'modbus'"):
        GripperInterface("modbus")
    with pytest.raises(GripperInterfaceError, match="needs the finger joint"):
        GripperInterface(FOLLOW_JOINT_TRAJECTORY, "/g/follow_joint_trajectory")
    with pytest.raises(GripperInterfaceError, match="no finger joint named like"):
        gripper_interface("wx250s").for_arm(("finger_a", "finger_b"))
    with pytest.raises(GripperInterfaceError, match="must be finite"):
        gripper_interface("wx250s").joint_position(math.nan)
