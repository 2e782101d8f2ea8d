"""The through-ROS part of the policy benchmark: a policy node process, input sets streamed at
10 Hz, goals recorded by this process's action server, a sim node rendering as load."""
import pytest

from dexsim_bringup.bench_policy import bench_ros_latency
from dexsim_policy.models import ACTConfig

pytestmark = pytest.mark.ros


def test_streamed_ros_latency_with_a_rendering_sim_node_as_load():
    out = bench_ros_latency(ACTConfig(image_size=(32, 40)), n=10, image_size=(64, 80))
    assert 0 < out["act_ros_p50_ms"] <= out["act_ros_p99_ms"] <= out["act_ros_max_ms"]
    assert out["act_ros_sets"] == 10 and 0 <= out["act_ros_missed"] <= 5
    assert out["act_ros_goal_jitter_ms"] >= 0 and out["act_ros_goal_interval_mean_ms"] > 0
    assert out["load_sim_cpu_fraction"] > 0          # the sim node was rendering during the stream
    assert out["act_node_latency_p99_ms"] > 0         # the node's own view (stamp -> goal sent)


def test_untrained_benchmark_policy_stays_inside_the_safety_limits(tmp_path):
    """The benchmark's calm checkpoint must produce commands the safety filter keeps (else there is
    nothing to time): its action range is a few hundredths of a radian around home."""
    import numpy as np

    from dexsim_bringup.bench_policy import BENCH_ROBOT, CALM_ACTION_HALF_RANGE, _bench_checkpoint
    from dexsim_policy.models import DiffusionConfig
    from dexsim_policy.runtime import PolicyRuntime
    from dexsim_sim.robots.registry import get_robot

    cfg = DiffusionConfig(image_size=(32, 40))
    runtime = PolicyRuntime.load(_bench_checkpoint(cfg, tmp_path / "ckpt", seed=0))
    robot = get_robot(BENCH_ROBOT)
    rng = np.random.default_rng(0)
    obs = {"left_rgb": rng.integers(0, 255, (32, 40, 3), dtype=np.uint8),
           "right_rgb": rng.integers(0, 255, (32, 40, 3), dtype=np.uint8),
           "joint_pos": np.asarray(robot.home, np.float32), "gripper": np.zeros(1, np.float32)}
    chunk = runtime.act_chunk(obs)
    assert np.all(np.abs(chunk[:, :6] - np.asarray(robot.home)) <= CALM_ACTION_HALF_RANGE + 1e-5)
