"""Helpers shared by the node tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def calm_checkpoint():
    """Factory: ``calm_checkpoint(path, robot, (H, W), action_std)`` -> a tiny untrained checkpoint."""
    return make_calm_checkpoint


def make_calm_checkpoint(path: Path, robot: str, image_size: tuple[int, int], action_std: float) -> Path:
    """An untrained tiny ACT whose action normalizer maps the network output around the robot's
    home pose with ``action_std`` rad per unit ("calm" at 0.01, "wild" at 1e4)."""
    import torch

    from dexsim_policy.checkpoint import save_checkpoint
    from dexsim_policy.models import ACTConfig, make_policy
    from dexsim_sim.robots.registry import get_robot

    torch.manual_seed(0)
    config = ACTConfig(image_size=image_size, backbone_widths=(4, 8), backbone_blocks=(1, 1), dim_model=16,
                       n_heads=2, dim_feedforward=32, n_encoder_layers=1, latent_dim=4, horizon=5, random_shift_px=0)
    policy = make_policy(config)
    act_mean = np.concatenate([np.asarray(get_robot(robot).home), [0.0]])
    stats = {"state": {"min": -np.ones(7), "max": np.ones(7), "mean": np.zeros(7), "std": np.ones(7)},
             "action": {"min": act_mean - 1, "max": act_mean + 1, "mean": act_mean,
                        "std": np.full(7, action_std)}}
    policy.normalizer.set_stats(stats)
    return save_checkpoint(path, policy, dataset_info={"robot": robot, "task": "grasp", "image_size": list(image_size)})
