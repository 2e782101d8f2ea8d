"""The shipped per-robot configs agree with the robot registry and the driver tables."""
from __future__ import annotations

import pytest
import yaml

from dexsim_bringup import hardware
from dexsim_sim.robots.registry import get_robot


@pytest.mark.parametrize("robot", hardware.REAL_ROBOTS)
def test_shipped_config_agrees_with_the_registry(robot):
    cfg = hardware.load_robot_config(robot)
    spec = get_robot(robot)
    p = cfg.params
    joints = spec.arm_joints + spec.gripper_joints
    assert tuple(p["joint_names"]) == spec.arm_joints and tuple(p["gripper_joint_names"]) == spec.gripper_joints
    assert len(p["driver_joint_names"]) == len(joints)
    for key in ("lower", "upper", "velocity", "effort"):
        assert p["joint_limits"][key] == pytest.approx([getattr(spec.limits[j], key) for j in joints]), key
    assert (p["gripper_open_m"], p["gripper_closed_m"]) == pytest.approx((spec.gripper_open, spec.gripper_closed))
    driver = hardware.ARM_DRIVERS[robot]
    assert (cfg.arm_action, cfg.gripper_action) == (driver.arm_action, driver.gripper_action)
    assert cfg.hand_eye.parent_frame == "base_link" and cfg.hand_eye.frame == "stereo_left_link"


@pytest.mark.parametrize("robot", hardware.REAL_ROBOTS)
def test_shipped_config_is_what_the_generator_writes(robot):
    shipped = yaml.safe_load(hardware.config_path(robot).read_text())
    assert shipped == hardware.robot_config(robot)    # shipped files are uncalibrated defaults


def test_bad_configs_are_named(tmp_path):
    cfg = hardware.robot_config("sr3")
    params = cfg["dexsim_policy"]["ros__parameters"]
    path = tmp_path / "sr3.yaml"
    params["camera"]["pose_in_base"] = [0, 0, 0, 0, 0, 0, 2]
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(hardware.HardwareConfigError, match="quaternion norm 2.0000"):
        hardware.load_robot_config("sr3", path)
    params["camera"]["pose_in_base"] = [0, 0, 0, 1]
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(hardware.HardwareConfigError, match="expected 7 numbers, got 4"):
        hardware.load_robot_config("sr3", path)
    with pytest.raises(hardware.HardwareConfigError, match="robot 'sr3', expected 'wx250s'"):
        hardware.load_robot_config("wx250s", path)
    path.write_text("other: {}\n")
    with pytest.raises(hardware.HardwareConfigError, match="expected dexsim_policy.ros__parameters"):
        hardware.load_robot_config("sr3", path)
