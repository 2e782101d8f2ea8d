"""Grasp-and-lift: a scripted IK trajectory succeeds, standing still does not."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.tasks.base import TaskError
from dexsim_sim.tasks.grasp import GraspConfig, GraspTask


def run(env, actions):
    info = {}
    for action in actions:
        _, _, terminated, _, info = env.step(action)
        if terminated:
            break
    return info


@pytest.mark.parametrize("robot, seed", [("sr3", 0), ("wx250s", 3)])
def test_scripted_grasp_succeeds(robot, seed):
    env = DexSimEnv(task="grasp", robot=robot, render_images=False)
    try:
        env.reset(seed=seed)
        info = run(env, env.oracle_actions())
        assert info["success"] is True
        assert info["lift_height"] >= 0.10 and info["fingers_in_contact"]
    finally:
        env.close()


def test_no_motion_is_no_success():
    env = DexSimEnv(task="grasp", robot="sr3", render_images=False)
    try:
        obs, _ = env.reset(seed=0)
        still = np.concatenate([obs["joint_pos"], [0.0]]).astype(np.float32)
        info = run(env, [still] * 15)
        assert info["success"] is False and abs(info["lift_height"]) < 0.01
    finally:
        env.close()


def test_config_and_robot_checks():
    with pytest.raises(TaskError, match="GraspConfig.hold_steps"):
        GraspConfig(hold_steps=0)
    with pytest.raises(TaskError, match="supports"):
        GraspTask.scene_path("wx250s_bimanual")
    assert GraspTask.scene_path().name == "grasp_sr3.yaml"
