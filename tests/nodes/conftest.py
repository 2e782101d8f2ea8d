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

    from dexsim_policy.data import arm_layout

    torch.manual_seed(0)
    spec = get_robot(robot)
    indices, state_keys, _ = arm_layout(len(spec.arms))      # a multi-arm robot: every arm driven
    n_state = len(spec.arm_joints) + len(spec.arms)
    config = ACTConfig(image_size=image_size, backbone_widths=(4, 8), backbone_blocks=(1, 1), dim_model=16,
                       n_heads=2, dim_feedforward=32, n_encoder_layers=1, latent_dim=4, horizon=5, random_shift_px=0,
                       action_indices=indices, state_keys=state_keys, state_dim=n_state)
    policy = make_policy(config)
    act_mean = np.concatenate([np.concatenate([spec.home_of(arm), [0.0]]) for arm in spec.arms])
    n = len(act_mean)
    stats = {"state": {"min": -np.ones(n_state), "max": np.ones(n_state), "mean": np.zeros(n_state),
                       "std": np.ones(n_state)},
             "action": {"min": act_mean - 1, "max": act_mean + 1, "mean": act_mean,
                        "std": np.full(n, action_std)}}
    policy.normalizer.set_stats(stats)
    return save_checkpoint(path, policy, dataset_info={"robot": robot, "task": "grasp", "image_size": list(image_size)})
