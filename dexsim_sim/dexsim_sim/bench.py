"""Simulation throughput: physics steps/s, stereo render rate at two sizes, and the sim node's real-time factor.

``bench_sim(robot="sr3", task="grasp", seconds=3.0)`` returns::

    {"robot", "task", "renderer",
     "physics_steps_per_s",          # PyBullet steps of the task's world, no rendering
     "stereo_fps_640x512",           # stereo pairs (left+right RGB, depth, seg) per second
     "stereo_fps_320x256",
     "rtf_stereo_10hz"}              # sim s per wall s of the real SimNode (640x512 stereo at 10 Hz of
                                     # sim time, joint states at 100 Hz, real_time_factor 0)

Each figure is measured for about ``seconds`` of wall time. The node part starts DDS participants,
so it needs the loopback profile in the environment (``FASTDDS_DEFAULT_PROFILES_FILE``, as the
``dexsim`` CLI sets it) or an explicit ``DEXSIM_DDS=network``.
"""
from __future__ import annotations

import math
import os
import time

from .env import DexSimEnv

STEREO_SIZES = ((640, 512), (320, 256))       # (W, H)
STEREO_WARMUP_CALLS = 5                       # untimed renders first (llvmpipe compiles shaders, caches fill)
NODE_WARMUP_S = 1.0                           # s wall before the node's clock is sampled
NODE_TICK_TIMEOUT_S = 30.0                    # s wall the node may take for one control tick (with a render)
POLL_S = 0.01                                 # s
PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
DDS_OPT_OUT_ENV = "DEXSIM_DDS"


class BenchError(RuntimeError):
    """A benchmark that cannot run here (e.g. no loopback DDS profile for the node measurement)."""


def _rate(fn, seconds: float, warmup_calls: int = 0) -> float:
    """Calls of ``fn`` per wall second over about ``seconds``, after ``warmup_calls`` untimed calls."""
    for _ in range(warmup_calls):
        fn()
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def bench_physics(robot: str, task: str, seconds: float) -> float:
    env = DexSimEnv(task=task, robot=robot, render_images=False)
    try:
        env.reset(seed=0)
        return _rate(lambda: env.world.step(1), seconds)
    finally:
        env.close()


def bench_stereo(robot: str, task: str, size: tuple[int, int], seconds: float, renderer: str = "auto") -> tuple[float, str]:
    """Stereo pairs per second at ``size`` (W, H) and the renderer used."""
    env = DexSimEnv(task=task, robot=robot, image_size=(size[1], size[0]), render_images=True, renderer=renderer)
    try:
        env.reset(seed=0)
        return _rate(env.world.render, seconds, STEREO_WARMUP_CALLS), env.world.renderer
    finally:
        env.close()


def bench_node_rtf(robot: str, task: str, seconds: float, renderer: str = "auto", camera_hz: float = 10.0) -> float:
    """Real-time factor of the real SimNode (in this process, its own rclpy context) at full speed."""
    if PROFILE_ENV not in os.environ and os.environ.get(DDS_OPT_OUT_ENV, "").lower() != "network":
        raise BenchError(f"rtf_stereo_10hz starts a ROS node: set {PROFILE_ENV} to the loopback profile "
                         f"(dexsim_bringup/resources/fastdds_loopback.xml) or {DDS_OPT_OUT_ENV}=network")
    import rclpy
    from rclpy.parameter import Parameter

    from .nodes.sim_node import SimNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = None
    try:
        node = SimNode(context=context, parameter_overrides=[
            Parameter("robot", value=robot), Parameter("task", value=task), Parameter("renderer", value=renderer),
            Parameter("real_time_factor", value=0.0), Parameter("camera_hz", value=float(camera_hz))])
        time.sleep(NODE_WARMUP_S)
        sim0, wall0 = node.sim.time, time.perf_counter()
        time.sleep(seconds)
        deadline = wall0 + seconds + NODE_TICK_TIMEOUT_S
        while node.sim.time <= sim0 and not node.stopped and time.perf_counter() < deadline:
            time.sleep(POLL_S)      # a window shorter than one control tick: wait for the tick to end
        sim1, wall1 = node.sim.time, time.perf_counter()
        if node.stopped or sim1 <= sim0:
            raise BenchError("the sim node's clock did not advance during the benchmark")
        return (sim1 - sim0) / (wall1 - wall0)
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def bench_sim(robot: str = "sr3", task: str = "grasp", seconds: float = 3.0, renderer: str = "auto") -> dict:
    """All simulation figures (see the module docstring); about 4 x ``seconds`` of wall time plus set-up."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise BenchError(f"seconds: must be a positive duration, got {seconds!r}")
    out: dict = {"robot": robot, "task": task,
                 "physics_steps_per_s": bench_physics(robot, task, seconds)}
    for size in STEREO_SIZES:
        fps, used = bench_stereo(robot, task, size, seconds, renderer)
        out[f"stereo_fps_{size[0]}x{size[1]}"] = fps
        out["renderer"] = used
    out["rtf_stereo_10hz"] = bench_node_rtf(robot, task, seconds, renderer)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(bench_sim(), indent=2))
