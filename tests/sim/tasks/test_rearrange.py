"""Bimanual rearrangement: scripted pick-and-place per arm succeeds, standing still does not."""
from __future__ import annotations

import numpy as np

from dexsim_sim.env import DexSimEnv


def test_scripted_rearrange_succeeds_and_no_motion_fails():
    env = DexSimEnv(task="rearrange", render_images=False)
    try:
        obs, info = env.reset(seed=5)
        assert info["success"] is False
        assert [a for _, _, a in env.task.pairs] == [0, 1]        # cup -> left arm, block -> right arm
        for action in env.oracle_actions():
            _, _, terminated, _, info = env.step(action)
            if terminated:
                break
        assert info["success"] is True and info["cup_in_region"] and info["block_in_region"]

        obs, _ = env.reset(seed=5)
        still = np.concatenate([obs["joint_pos"], [0.0, 0.0]]).astype(np.float32)
        for _ in range(10):
            _, _, _, _, info = env.step(still)
        assert info["success"] is False and info["cup_distance"] > 0.15
    finally:
        env.close()
