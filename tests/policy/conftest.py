"""Tiny synthetic datasets in the exact DexSim HDF5 layout (docs/CONTRACTS.md), written with h5py.

Each episode follows deterministic smooth joint dynamics, q_{t+1} = q_t + DT * f(q_t); the
joint action is the next joint position and the gripper command is a threshold on q_0, so the
whole future action chunk is a function of the current state (learnable). Images show a square
whose position follows q_0/q_1 on an episode-coloured background; points are a blob around an
object position that drifts with q_2.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

N_JOINTS = 6
N_POINTS = 1024
DT = 0.1
GRIPPER_OPEN_M = 0.08
SQUARE_PX = 8


def _dynamics(q: np.ndarray) -> np.ndarray:
    return np.array([np.cos(q[1]), -np.sin(q[0]), 0.5 * np.cos(q[3]), 0.3, -0.4 * q[4], 0.2 * np.sin(q[5] + 1)])


def write_synthetic_dataset(root: Path, n_episodes: int = 4, n_steps: int = 20, height: int = 48,
                            width: int = 64, seed: int = 0, episodes_per_shard: int = 2, arms: int = 1) -> Path:
    """``arms > 1``: a multi-arm layout (21 action columns and 6 joints per arm, ``gripper_arms``);
    every further arm mirrors the first with its joints negated."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    files: dict[int, h5py.File] = {}
    for e in range(n_episodes):
        shard = e // episodes_per_shard
        if shard not in files:
            f = files[shard] = h5py.File(root / f"shard_{shard:05d}.h5", "w")
            f.attrs["format"] = "dexsim-hdf5"
            f.attrs["version"] = 1
            f.create_group("data")
        q = np.zeros((n_steps + 1, N_JOINTS))
        q[0] = rng.uniform(-0.5, 0.5, N_JOINTS)
        for t in range(n_steps):
            q[t + 1] = q[t] + DT * _dynamics(q[t])
        grip_cmd = (q[1:, 0] > q[0, 0]).astype(np.float32)  # 1 closed, 0 open
        gripper = np.concatenate([[GRIPPER_OPEN_M], GRIPPER_OPEN_M * (1 - grip_cmd[:-1])])[:, None]
        actions = np.zeros((n_steps, 21), np.float32)
        actions[:, :N_JOINTS] = q[1:]
        actions[:, 6:13] = [0.4, 0.0, 0.2, 0, 0, 0, 1]
        actions[:, 13] = grip_cmd
        actions[:, 14:21] = [0.0, 0.0, 0.6, 0, 0, 0, 1]
        bg = rng.integers(0, 255, 3)
        imgs = np.empty((n_steps, height, width, 3), np.uint8)
        imgs[:] = bg
        for t in range(n_steps):
            r = int(np.clip((q[t, 1] + 1.5) / 3 * (height - SQUARE_PX), 0, height - SQUARE_PX))
            c = int(np.clip((q[t, 0] + 1.5) / 3 * (width - SQUARE_PX), 0, width - SQUARE_PX))
            imgs[t, r:r + SQUARE_PX, c:c + SQUARE_PX] = 255
        centre = np.array([0.4, 0.0, 0.05]) + np.stack([0.05 * q[:n_steps, 2], np.zeros(n_steps), np.zeros(n_steps)], 1)
        points = (centre[:, None, :] + 0.02 * rng.standard_normal((n_steps, N_POINTS, 3))).astype(np.float32)
        g = files[shard]["data"].create_group(f"ep_{e:08d}")
        g.attrs.update(robot="sr3", task="grasp", seed=e, success=True, dr_sample="{}", spec="{}",
                       num_steps=n_steps, camera=json.dumps({"K": [1, 0, 0, 0, 1, 0, 0, 0, 1], "baseline": 0.05,
                                                             "pose": [0, 0, 0, 0, 0, 0, 1]}),
                       action_names=json.dumps([f"a{i}" for i in range(21)]))
        obs = g.create_group("obs")
        obs["left_rgb"] = imgs
        obs["right_rgb"] = np.roll(imgs, -2, axis=2)
        obs["depth"] = np.full((n_steps, height, width), 0.6, np.float32)
        obs["seg"] = np.full((n_steps, height, width), -1, np.int32)
        obs["points"] = points
        obs["joint_pos"] = q[:n_steps].astype(np.float32)
        obs["joint_vel"] = (_dynamics_batch(q[:n_steps])).astype(np.float32)
        obs["ee_pose"] = np.tile(np.array([0.4, 0, 0.2, 0, 0, 0, 1], np.float32), (n_steps, 1))
        obs["gripper"] = gripper.astype(np.float32)
        if arms > 1:
            mirror = actions.copy()
            mirror[:, :N_JOINTS] *= -1
            actions = np.concatenate([actions] + [mirror] * (arms - 1), axis=1)
            del obs["joint_pos"]
            obs["joint_pos"] = np.concatenate([q[:n_steps]] + [-q[:n_steps]] * (arms - 1), axis=1).astype(np.float32)
            obs["gripper_arms"] = np.tile(gripper, (1, arms)).astype(np.float32)
            g.attrs["action_names"] = json.dumps([f"arm{a}/a{i}" for a in range(arms) for i in range(21)])
        g["actions"] = actions
        dones = np.zeros(n_steps, bool)
        dones[-1] = True
        g["dones"] = dones
    for f in files.values():
        f.close()
    (root / "card.json").write_text(json.dumps({"name": "synthetic", "episodes": n_episodes}))
    return root


def _dynamics_batch(q: np.ndarray) -> np.ndarray:
    return np.stack([_dynamics(x) for x in q])


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("ds") / "tiny")


@pytest.fixture
def synthetic_dataset():
    """:func:`write_synthetic_dataset`, for tests that need a layout of their own."""
    return write_synthetic_dataset


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """One intra-op thread: on a shared 2-core machine, spinning thread pools make CPU torch
    many times slower under contention; results do not depend on it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def overfit(tiny_dataset):
    """Train a policy on the whole tiny dataset held in memory; returns (policy, first, last, batch)
    with the mean of the first 5 and last 20 values of ``log_key``."""
    import torch
    from torch.utils.data import default_collate

    from dexsim_policy.data import list_episodes
    from dexsim_policy.models import make_policy
    from dexsim_policy.train import compute_stats, make_dataset

    def run(config, steps: int, lr: float, log_key: str, batch_size: int = 16, seed: int = 0):
        torch.manual_seed(seed)
        ds = make_dataset(config, list_episodes(tiny_dataset))
        data = default_collate([ds[i] for i in range(len(ds))])
        policy = make_policy(config)
        policy.normalizer.set_stats(compute_stats(ds))
        policy.train()
        opt = torch.optim.AdamW(policy.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        values = []
        for _ in range(steps):
            idx = torch.randint(0, len(ds), (batch_size,), generator=gen)
            loss, logs = policy({k: v[idx] for k, v in data.items()})
            opt.zero_grad()
            loss.backward()
            opt.step()
            values.append(logs[log_key])
        policy.eval()
        return policy, float(np.mean(values[:5])), float(np.mean(values[-20:])), data

    return run
