"""Policy benchmarks.

:func:`bench_models` (model only, synthetic tensors): inference latency (p50/p99, ms) of
``predict_action_chunk`` at batch 1, and training throughput (samples/s) of short AdamW runs.
Keys: ``<prefix>_model_p50_ms``, ``<prefix>_model_p99_ms``, ``<prefix>_train_samples_per_s``,
``<prefix>_params`` with prefixes ``act``, ``diffusion``, ``pointcloud``.

:func:`dexsim_bringup.bench_policy.bench_policy` adds the latency through ROS (it starts the policy
node as its own process, so it lives in the bringup layer): the benchmark process streams 640x512
stereo pairs + joint states at 10 Hz, with a sim node rendering as load, and hosts the
FollowJointTrajectory server that records when each goal arrives (``<prefix>_ros_p50_ms``,
``<prefix>_ros_p99_ms``, ``<prefix>_ros_goal_jitter_ms``; publish -> goal received, wall clock).
Point-cloud policies report None there: the node has no point-cloud input yet.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from .models import ACTConfig, BasePolicy, DiffusionConfig, PointCloudDiffusionConfig, PolicyConfig, make_policy

BENCH_PREFIX = {"act": "act", "diffusion": "diffusion", "pointcloud_diffusion": "pointcloud"}
P50, P99 = 50, 99


def _identity_stats(policy: BasePolicy) -> None:
    stats = {name: {"min": -np.ones(dim), "max": np.ones(dim), "mean": np.zeros(dim), "std": np.ones(dim)}
             for name, (dim, _) in policy.normalizer.features.items()}
    policy.normalizer.set_stats(stats)


def synthetic_batch(config: PolicyConfig, batch_size: int, generator: torch.Generator,
                    with_actions: bool = True) -> dict[str, torch.Tensor]:
    """Random tensors with the shapes of a training batch (see models/base.py)."""
    b, to = batch_size, config.n_obs_steps
    batch = {"state": torch.randn(b, to, config.state_dim, generator=generator)}
    for key in config.image_keys:
        batch[key] = torch.rand(b, to, 3, *config.image_size, generator=generator)
    if config.use_points:
        batch["points"] = torch.randn(b, to, config.num_points, 3, generator=generator)
    if with_actions:
        batch["action"] = torch.randn(b, config.horizon, config.action_dim, generator=generator)
        batch["action_is_pad"] = torch.zeros(b, config.horizon, dtype=torch.bool)
    return batch


def bench_models(configs: Sequence[PolicyConfig] | None = None, n_latency: int = 30, n_warmup: int = 3,
                 train_steps: int = 5, batch_size: int = 8, seed: int = 0) -> dict[str, float]:
    """Benchmark each config (default: the three small default configs) on CPU."""
    configs = list(configs) if configs is not None else [ACTConfig(), DiffusionConfig(), PointCloudDiffusionConfig()]
    out: dict[str, float] = {"torch_threads": torch.get_num_threads()}
    for cfg in configs:
        prefix = BENCH_PREFIX[cfg.policy_type]
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        policy = make_policy(cfg)
        _identity_stats(policy)
        out[f"{prefix}_params"] = sum(p.numel() for p in policy.parameters())
        policy.eval()
        obs = synthetic_batch(cfg, 1, gen, with_actions=False)
        times = []
        for i in range(n_warmup + n_latency):
            t0 = time.perf_counter()
            policy.predict_action_chunk(obs, generator=gen)
            if i >= n_warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        out[f"{prefix}_model_p50_ms"] = float(np.percentile(times, P50))
        out[f"{prefix}_model_p99_ms"] = float(np.percentile(times, P99))
        policy.train()
        opt = torch.optim.AdamW(policy.parameters(), lr=1e-4)
        batch = synthetic_batch(cfg, batch_size, gen)
        for i in range(n_warmup + train_steps):
            if i == n_warmup:
                t0 = time.perf_counter()
            loss, _ = policy(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        out[f"{prefix}_train_samples_per_s"] = train_steps * batch_size / (time.perf_counter() - t0)
    return out
