"""The through-ROS part of the policy benchmark: a policy node process, inputs published one set
at a time, goals recorded by this process's action server."""
import pytest

from dexsim_bringup.bench_policy import bench_ros_latency
from dexsim_policy.models import ACTConfig

pytestmark = pytest.mark.ros


def test_ros_latency_keys():
    out = bench_ros_latency(ACTConfig(image_size=(32, 40)), n=3, n_warmup=1)
    assert set(out) == {"act_ros_p50_ms", "act_ros_p99_ms"}
    assert 0 < out["act_ros_p50_ms"] <= out["act_ros_p99_ms"]
