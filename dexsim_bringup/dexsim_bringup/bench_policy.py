"""`dexsim bench policy`: model-only latency and training throughput (:mod:`dexsim_policy.bench`)
plus the latency through ROS: the policy node runs as its own process; this process publishes one
stereo pair + joint state (stamped now) at a time and hosts the FollowJointTrajectory server that
records when the resulting goal arrives (publish -> goal received, wall clock).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from dexsim_policy.bench import BENCH_PREFIX, P50, P99, bench_models
from dexsim_policy.models import ACTConfig, DiffusionConfig, PointCloudDiffusionConfig, PolicyConfig, make_policy

ROS_RATE_HZ = 100.0           # policy node inference timer in the ROS benchmark (bounds the tick wait)
ROS_START_TIMEOUT_S = 120.0
ROS_GOAL_TIMEOUT_S = 10.0
# An input set whose goal does not come within this is counted as missed and the next set is
# published (e.g. a slow first inference lets the node's watchdog hold on stale inputs, as it should).
ROS_MISS_TIMEOUT_S = 2.0
MAX_MISSED_FRACTION = 0.5
ROS_GAP_S = 0.05              # s between two published input sets
BENCH_ROBOT = "wx250s"
CALM_ACTION_STD = 0.01        # rad per unit of network output: goals near the home pose
# Half-width (rad) of the action range under min/max normalization (the diffusion policies): an
# untrained network's outputs span the whole range, and a wide one makes the safety filter refuse
# commands (correctly), which is not what a latency benchmark measures.
CALM_ACTION_HALF_RANGE = 0.01


def _bench_checkpoint(cfg: PolicyConfig, directory, seed: int):
    """An untrained policy whose actions sit around the robot's home pose, saved as a checkpoint."""
    from dexsim_sim.robots.registry import get_robot

    from dexsim_policy.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    policy = make_policy(cfg)
    home = np.concatenate([get_robot(BENCH_ROBOT).home, [0.0]])
    stats = {name: {"min": -np.ones(dim), "max": np.ones(dim), "mean": np.zeros(dim), "std": np.ones(dim)}
             for name, (dim, _) in policy.normalizer.features.items()}
    stats["action"] = {"min": home - CALM_ACTION_HALF_RANGE, "max": home + CALM_ACTION_HALF_RANGE, "mean": home,
                       "std": np.full(len(home), CALM_ACTION_STD)}
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

    from .dds import loopback_env
    from .ros_client import RosClient
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
        missed = 0
        try:
            if not activate.wait_for_service(timeout_sec=ROS_START_TIMEOUT_S):
                raise RuntimeError(f"policy node did not start: {open(f'{tmp}/node.log').read()[-2000:]}")
            client.call(activate, SetPolicyActive.Request(active=True), ROS_GOAL_TIMEOUT_S)
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
                    got = arrived.wait_for(lambda: len(arrivals) > before, ROS_MISS_TIMEOUT_S)
                    t_goal = arrivals[before] if got else None
                if t_goal is None:
                    missed += 1
                    if missed > MAX_MISSED_FRACTION * (n_warmup + n):
                        raise RuntimeError(f"no goal for {missed} of {i + 1} input sets; node log: "
                                           f"{open(f'{tmp}/node.log').read()[-3000:]}")
                    continue
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
            f"{prefix}_ros_p99_ms": float(np.percentile(latencies, P99)),
            f"{prefix}_ros_missed": missed}


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
