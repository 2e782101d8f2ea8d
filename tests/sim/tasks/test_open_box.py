"""Open-box task: success is the lid angle; no motion leaves it closed."""
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


def test_config_validation():
    with pytest.raises(TaskError, match="open_angle_deg"):
        OpenBoxConfig(open_angle_deg=200.0)
