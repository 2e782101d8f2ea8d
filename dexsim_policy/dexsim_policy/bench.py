"""Policy benchmarks.

:func:`bench_models` (model only, synthetic tensors): inference latency (p50/p99, ms) of
``predict_action_chunk`` at batch 1, and training throughput (samples/s) of short AdamW runs.
Keys: ``<prefix>_model_p50_ms``, ``<prefix>_model_p99_ms``, ``<prefix>_train_samples_per_s``,
``<prefix>_params`` with prefixes ``act``, ``diffusion``, ``pointcloud``.

:func:`bench_policy` adds the latency through ROS: the policy node runs as its own process; this
process publishes one stereo pair + joint state (stamped now) at a time and hosts the
FollowJointTrajectory server that records when the resulting goal arrives (``<prefix>_ros_p50_ms``,
``<prefix>_ros_p99_ms``; publish -> goal received, wall clock, including up to one inference
period of the node's timer, ``ROS_RATE_HZ``). Point-cloud policies report None there: the node has
no point-cloud input yet.
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


ROS_RATE_HZ = 100.0           # policy node inference timer in the ROS benchmark (bounds the tick wait)
ROS_START_TIMEOUT_S = 120.0
ROS_GOAL_TIMEOUT_S = 10.0
ROS_GAP_S = 0.05              # s between two published input sets
BENCH_ROBOT = "wx250s"
CALM_ACTION_STD = 0.01        # rad per unit of network output: goals near the home pose


def _bench_checkpoint(cfg: PolicyConfig, directory, seed: int):
    """An untrained policy whose actions sit around the robot's home pose, saved as a checkpoint."""
    from dexsim_sim.robots.registry import get_robot

    from .checkpoint import save_checkpoint

    torch.manual_seed(seed)
    policy = make_policy(cfg)
    home = np.concatenate([get_robot(BENCH_ROBOT).home, [0.0]])
    stats = {name: {"min": -np.ones(dim), "max": np.ones(dim), "mean": np.zeros(dim), "std": np.ones(dim)}
             for name, (dim, _) in policy.normalizer.features.items()}
    stats["action"] = {"min": home - 1, "max": home + 1, "mean": home, "std": np.full(len(home), CALM_ACTION_STD)}
    policy.normalizer.set_stats(stats)
    return save_checkpoint(directory, policy, dataset_info={"robot": BENCH_ROBOT,
                                                            "image_size": list(cfg.image_size)})


def bench_ros_latency(cfg: PolicyConfig, n: int = 30, n_warmup: int = 3, seed: int = 0) -> dict[str, float]:
    """Publish -> goal-received latency (ms, p50/p99) through a policy node process (see module doc)."""
    import subprocess
    import sys
    import tempfile
    import threading

    from control_msgs.action import FollowJointTrajectory
    from dexsim_msgs.srv import SetPolicyActive
    from rclpy.action import ActionServer
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState

    from dexsim_bringup.dds import loopback_env
    from dexsim_bringup.ros_client import RosClient
    from dexsim_sim.robots.registry import get_robot
    from dexsim_sim.ros import conversions as cv

    prefix = BENCH_PREFIX[cfg.policy_type]
    robot = get_robot(BENCH_ROBOT)
    arrivals: list[float] = []
    arrived = threading.Condition()

    def execute(handle):
        with arrived:
            arrivals.append(time.monotonic())
            arrived.notify_all()
        handle.succeed()
        return FollowJointTrajectory.Result()

    with tempfile.TemporaryDirectory(prefix="dexsim_bench_") as tmp, RosClient("dexsim_bench_policy") as client:
        ckpt = _bench_checkpoint(cfg, f"{tmp}/ckpt", seed)
        log = open(f"{tmp}/node.log", "wb")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-m", "dexsim_policy.nodes.policy_node", "--ros-args", "-p", f"robot:={BENCH_ROBOT}",
               "-p", f"checkpoint:={ckpt}", "-p", f"rate_hz:={ROS_RATE_HZ}"]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=loopback_env())
        node = client.node
        server = ActionServer(node, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory", execute)
        pubs = [node.create_publisher(Image, f"/stereo/{side}/image_rect", qos_profile_sensor_data)
                for side in ("left", "right")]
        joints = node.create_publisher(JointState, "/joint_states", 10)
        activate = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
        rng = np.random.default_rng(seed)
        h, w = cfg.image_size
        q = np.concatenate([robot.home, [robot.gripper_open / 2, -robot.gripper_open / 2]])
        latencies = []
        try:
            if not activate.wait_for_service(timeout_sec=ROS_START_TIMEOUT_S):
                raise RuntimeError(f"policy node did not start: {open(f'{tmp}/node.log').read()[-2000:]}")
            client.result(activate.call_async(SetPolicyActive.Request(active=True)), ROS_GOAL_TIMEOUT_S)
            for i in range(n_warmup + n):
                img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                stamp = node.get_clock().now().to_msg()
                with arrived:
                    before = len(arrivals)
                t_pub = time.monotonic()
                joints.publish(cv.joint_state_msg(robot.arm_joints + robot.gripper_joints, q, stamp=stamp))
                for side, pub in zip(("left", "right"), pubs):
                    pub.publish(cv.image_to_msg(img, "rgb8", stamp, f"stereo_{side}_optical_frame"))
                with arrived:
                    if not arrived.wait_for(lambda: len(arrivals) > before, ROS_GOAL_TIMEOUT_S):
                        raise RuntimeError(f"no goal within {ROS_GOAL_TIMEOUT_S} s of input set {i}")
                    t_goal = arrivals[before]
                if i >= n_warmup:
                    latencies.append((t_goal - t_pub) * 1e3)
                time.sleep(ROS_GAP_S)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            server.destroy()
    return {f"{prefix}_ros_p50_ms": float(np.percentile(latencies, P50)),
            f"{prefix}_ros_p99_ms": float(np.percentile(latencies, P99))}


def bench_policy(configs: Sequence[PolicyConfig] | None = None, n_latency: int = 30, n_ros: int = 30,
                 train_steps: int = 5, batch_size: int = 8, seed: int = 0) -> dict:
    """Model-only latency and training throughput (:func:`bench_models`) plus the latency through
    ROS (:func:`bench_ros_latency`) of each config (default: the three small default configs)."""
    configs = list(configs) if configs is not None else [ACTConfig(), DiffusionConfig(), PointCloudDiffusionConfig()]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out: dict = bench_models(configs, n_latency=n_latency, train_steps=train_steps, batch_size=batch_size,
                                 seed=seed)
        for cfg in configs:
            prefix = BENCH_PREFIX[cfg.policy_type]
            if cfg.use_points:
                out[f"{prefix}_ros_p50_ms"] = out[f"{prefix}_ros_p99_ms"] = None
                out[f"{prefix}_ros_note"] = "the policy node has no point-cloud input yet"
                continue
            out.update(bench_ros_latency(cfg, n=n_ros, seed=seed))
    finally:
        torch.set_num_threads(before)
    out["ros_policy_rate_hz"] = ROS_RATE_HZ
    return out
