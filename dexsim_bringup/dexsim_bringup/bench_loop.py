"""`dexsim bench loop`: the simulated closed loop in real time.

The sim node (640x512 stereo at 10 Hz of sim time, physics and joint states as deployed) and the
policy node (the shipped demo checkpoint, or any) run as separate processes over loopback DDS, the
graph `dexsim up sim --checkpoint ...` starts, with the sim free-running (``real_time_factor`` 0:
as fast as the machine allows). In one run it measures the sim's real-time factor (sim s per wall s)
first with the policy inactive (the baseline: the sim alone with the policy node idle) and then with
the policy driving the arm; ``rtf_closed_loop`` >= 1 means the machine keeps real time with both.
The policy node's own diagnostics give its inference time, goals per sim second, latency (image
stamp -> goal sent, in sim ms: a free-running sim's ms, see ``rtf_closed_loop``) and jitter.
"""
from __future__ import annotations

import time
from pathlib import Path

ROS_START_TIMEOUT_S = 120.0
ROS_CALL_TIMEOUT_S = 30.0
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "resources" / "demo_policy"
POLL_S = 0.05


def bench_loop(checkpoint: str | Path | None = None, seconds: float = 20.0, image_size: tuple[int, int] = (512, 640),
               camera_hz: float = 10.0, seed: int = 0) -> dict:
    """Real-time factor of the sim + policy closed loop (see module doc); ``seconds`` of wall time
    with the policy active (and half as long without, for the baseline)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from dexsim_msgs.srv import ResetEpisode, SetPolicyActive
    from rosgraph_msgs.msg import Clock

    from dexsim_policy.evaluation import checkpoint_defaults, eval_seed

    from .graph import sim_graph
    from .launcher import Launcher
    from .ros_client import RosClient
    from .ros_evaluation import wait_for_services

    if not seconds > 0:
        raise ValueError(f"seconds: expected > 0, got {seconds}")
    ckpt = str(Path(checkpoint or DEFAULT_CHECKPOINT).resolve())
    defaults = checkpoint_defaults(ckpt)
    robot = defaults.get("robot") or "wx250s"
    h, w = image_size
    graph = sim_graph(robot, defaults.get("task"), checkpoint=ckpt, seed=eval_seed(seed, 0), image_width=int(w),
                      image_height=int(h), camera_hz=camera_hz, real_time_factor=0.0)
    clock = [0.0]
    diag: dict[str, str] = {}

    def on_diag(msg) -> None:
        for status in msg.status:
            if status.name.endswith("policy"):
                diag.clear()
                diag.update({kv.key: kv.value for kv in status.values})

    def rtf(window_s: float) -> float:
        sim0, wall0 = clock[0], time.monotonic()
        while time.monotonic() < wall0 + window_s:
            launcher.check_alive()
            time.sleep(POLL_S)
        return (clock[0] - sim0) / (time.monotonic() - wall0)

    t0 = time.perf_counter()
    with Launcher(graph, quiet=True) as launcher, RosClient("dexsim_bench_loop") as client:
        node = client.node
        node.create_subscription(Clock, "/clock", lambda m: clock.__setitem__(0, m.clock.sec + m.clock.nanosec * 1e-9),
                                 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
        reset = node.create_client(ResetEpisode, "/dexsim/reset")
        activate = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
        wait_for_services(launcher, (reset, activate))
        client.call(reset, ResetEpisode.Request(seed=eval_seed(seed, 0)), ROS_CALL_TIMEOUT_S)
        client.wait_for(lambda: clock[0] > 0.5, ROS_START_TIMEOUT_S)   # rendering has started
        baseline = rtf(seconds / 2)
        client.call(activate, SetPolicyActive.Request(active=True), ROS_CALL_TIMEOUT_S)
        client.wait_for(lambda: diag.get("active") == "True", ROS_CALL_TIMEOUT_S)
        sent0, sim0 = int(diag.get("goals_sent", 0)), clock[0]
        closed = rtf(seconds)
        sim_s = clock[0] - sim0
        snapshot = dict(diag)
        client.call(activate, SetPolicyActive.Request(active=False), ROS_CALL_TIMEOUT_S)

    def num(key: str) -> float:
        try:
            return float(snapshot.get(key, "nan"))
        except ValueError:
            return float("nan")

    goals = int(num("goals_sent")) - sent0
    return {"robot": robot, "checkpoint": ckpt, "image_size": [int(w), int(h)], "camera_hz": camera_hz,
            "rtf_sim_only": baseline, "rtf_closed_loop": closed, "rtf_ratio": closed / baseline if baseline else None,
            "closed_loop_sim_s": sim_s, "goals_per_sim_s": goals / sim_s if sim_s > 0 else None,
            "policy_inference_ms": num("inference_ms"), "policy_latency_p50_sim_ms": num("latency_p50_ms"),
            "policy_latency_p99_sim_ms": num("latency_p99_ms"), "policy_goal_jitter_sim_ms": num("goal_jitter_ms"),
            "policy_dropped_inputs": num("dropped_inputs"), "policy_stale_events": num("stale_events"),
            "wall_s": time.perf_counter() - t0}
