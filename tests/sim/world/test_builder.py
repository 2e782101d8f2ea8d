"""World builder: deterministic builds, poses as in the scene, fast resets and state round trips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.world.builder import World, WorldError
from dexsim_sim.world.scene import load_scene

SCENE = Path(__file__).resolve().parents[3] / "dexsim_sim" / "dexsim_sim" / "scenes" / "grasp_wx250s.yaml"


@pytest.fixture(scope="module")
def world():
    w = World.build(SCENE, renderer="tiny", image_size=(48, 64))
    yield w
    w.close()


def test_handles_and_scene_poses(world):
    spec = world.robot.spec
    assert len(world.robot.arm_indices) == len(spec.arm_joints)
    assert set(world.body_ids()) == {o.name for o in world.scene.objects}
    for obj in world.scene.objects:
        assert world.object_pose(obj.name)[:3] == pytest.approx(obj.pose[:3], abs=1e-6)
    assert world.renderer == "tiny"
    with pytest.raises(WorldError, match="no object named 'ghost'"):
        world.object_pose("ghost")


def test_build_is_deterministic(world):
    other = World.build(SCENE, renderer="tiny", image_size=(48, 64))
    try:
        for w in (world, other):
            w.restore_state(w.save_state())
            w.set_robot_joints(w.robot.spec.home, gripper=0.0)
            w.reset_objects()
            w.step(60)
        assert other.body_ids() == world.body_ids()
        for name in world.objects:
            assert np.array_equal(world.object_pose(name), other.object_pose(name))
        assert np.array_equal(world.render()["left_rgb"], other.render()["left_rgb"])
    finally:
        other.close()


def test_reset_objects_and_state_round_trip(world):
    world.reset_objects()
    world.step(10)
    state = world.save_state()
    before = world.object_pose("target")
    world.reset_objects({"target": np.array([0.05, 0.05, 0.0, 0, 0, 0, 1])})
    world.step(10)
    assert world.object_pose("target")[:2] == pytest.approx([0.05, 0.05], abs=1e-3)
    world.restore_state(state)
    assert world.object_pose("target") == pytest.approx(before, abs=1e-9)
    with pytest.raises(WorldError, match="expected 7 finite numbers"):
        world.reset_objects({"target": np.array([0, 0, np.nan, 0, 0, 0, 1])})


def test_robot_joints_and_gripper(world):
    spec = world.robot.spec
    world.set_robot_joints(spec.home, gripper=1.0)
    q, _ = world.joint_states()
    assert q == pytest.approx(spec.home)
    assert world.gripper_openings()[0] == pytest.approx(spec.gripper_closed, abs=1e-6)
    world.set_robot_joints(spec.home, gripper=0.0)
    assert world.gripper_openings()[0] == pytest.approx(spec.gripper_open, abs=1e-6)
    base = world.ee_pose(0, "base")
    assert base[:3] == pytest.approx(world.ee_pose(0)[:3] - np.asarray(world.scene.robot.base_pose[:3]), abs=1e-9)
    with pytest.raises(WorldError, match="arm_q: expected 6"):
        world.set_robot_joints([0.0] * 5)


def test_scene_colours_and_textures_applied(world):
    target = world.scene.object("target")
    body = world.object("target").body
    rgba = p.getVisualShapeData(body, physicsClientId=world.client)[0][7]
    assert rgba == pytest.approx(world.object("target").asset.color if target.color is None else target.color)


def test_scene_object_can_be_loaded_from_file():
    assert load_scene(SCENE).robot.name == "wx250s"
