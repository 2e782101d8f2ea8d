"""Open-box task: success is the lid angle; no motion leaves it closed; the scripted push-lift opens it."""
from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.tasks.base import TaskError
from dexsim_sim.tasks.open_box import OpenBoxConfig


def test_lid_angle_decides_success():
    env = DexSimEnv(task="open_box", render_images=False)
    try:
        obs, info = env.reset(seed=0)
        still = np.concatenate([obs["joint_pos"], [0.0]]).astype(np.float32)
        for _ in range(5):
            _, _, _, _, info = env.step(still)
        assert info["success"] is False and abs(info["lid_angle_deg"]) < 2.0
        box = env.world.object("box").body
        p.resetJointState(box, 0, math.radians(75.0), physicsClientId=env.world.client)
        assert env.task.evaluate()["success"] is True
        waypoints = env.task.oracle()
        assert all(len(w.ee_poses) == 1 and np.all(np.isfinite(w.ee_poses[0])) for w in waypoints)
    finally:
        env.close()


ORACLE_SEEDS = (0, 1, 2)
MAX_ORACLE_JOINT_STEP = 0.35      # rad per control step: the scripted path stays in one IK branch


def test_scripted_push_lift_opens_the_box_without_ik_jumps():
    env = DexSimEnv(task="open_box", robot="aubo_i5", render_images=False, max_episode_steps=200)
    try:
        for seed in ORACLE_SEEDS:
            obs, info = env.reset(seed=seed)
            assert info["success"] is False
            actions = env.oracle_actions()
            joints = np.array([obs["joint_pos"]] + [a[:-1] for a in actions])
            assert np.max(np.abs(np.diff(joints, axis=0))) < MAX_ORACLE_JOINT_STEP
            for action in actions:
                _, _, _, _, info = env.step(action)
            assert info["success"] is True, f"seed {seed}: lid at {info['lid_angle_deg']:.1f} deg"
    finally:
        env.close()


def test_config_validation():
    with pytest.raises(TaskError, match="open_angle_deg"):
        OpenBoxConfig(open_angle_deg=200.0)
    with pytest.raises(TaskError, match="tool_pitch_deg"):
        OpenBoxConfig(tool_pitch_deg=95.0)
    with pytest.raises(TaskError, match="arc_step_deg"):
        OpenBoxConfig(arc_step_deg=0.0)
