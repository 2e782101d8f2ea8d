"""Synthetic episodes with known content for the dataset tests."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from dexsim_sim.datasets.hdf5 import Episode

ACTION_NAMES = ([f"joint_{i}" for i in range(6)] + [f"ee_base_{c}" for c in "xyz"] + [f"ee_base_q{c}" for c in "xyzw"]
                + ["gripper"] + [f"ee_cam_{c}" for c in "xyz"] + [f"ee_cam_q{c}" for c in "xyzw"])


def make_episode(seed: int, T: int = 4, H: int = 12, W: int = 16, success: bool = True,
                 failure_reason: str = "") -> Episode:
    rng = np.random.default_rng(seed)
    ee = np.zeros((T, 7), np.float32)
    ee[:, :3] = rng.uniform(-0.5, 0.5, (T, 3))
    ee[:, 6] = 1.0
    return Episode(
        seed=seed, robot="wx250s", task="grasp", success=success, failure_reason=failure_reason,
        obs={"left_rgb": rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8),
             "right_rgb": rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8),
             "depth": rng.uniform(0.3, 2.0, (T, H, W)).astype(np.float32),
             "seg": rng.integers(-1, 4, (T, H, W)).astype(np.int32),
             "points": rng.normal(size=(T, 1024, 3)).astype(np.float32),
             "joint_pos": rng.normal(size=(T, 6)), "joint_vel": rng.normal(size=(T, 6)),
             "ee_pose": ee, "gripper": rng.uniform(0.0, 0.07, (T, 1))},
        actions=rng.normal(size=(T, 21)), dones=np.arange(T) == T - 1, action_names=ACTION_NAMES,
        dr_sample={"seed": seed, "values": {"camera_fov": 1.1}}, spec={"name": "grasp_default"},
        camera={"K": [20.0, 0, 8.0, 0, 20.0, 6.0, 0, 0, 1], "baseline": 0.05, "width": W, "height": H,
                "pose": [0.5, 0.0, 0.6, 0.0, 0.0, 0.0, 1.0]},
        extra={"joint_names": ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]})


@pytest.fixture
def episode_factory() -> Callable[..., Episode]:
    return make_episode
