"""cProfile of the sim node's simulation thread (physics, controllers, rendering, conversion and
publishing of every topic) free-running (real_time_factor 0) at 640x512 stereo, 10 Hz of sim
time, on the loopback DDS profile. Prints the real-time factor it reached and the breakdown.
Usage: FASTDDS_DEFAULT_PROFILES_FILE=... RMW_IMPLEMENTATION=rmw_fastrtps_cpp \\
       .venv/bin/python scripts/profile/sim_node.py [WALL_SECONDS]"""
import cProfile
import pstats
import sys
import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter

from dexsim_sim.nodes import sim_node

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
profile = cProfile.Profile()
loop = sim_node.SimNode._loop


def profiled_loop(self) -> None:
    profile.enable()
    try:
        loop(self)
    finally:
        profile.disable()


sim_node.SimNode._loop = profiled_loop
rclpy.init()
node = sim_node.SimNode(parameter_overrides=[
    Parameter("robot", value="wx250s"), Parameter("real_time_factor", value=0.0),
    Parameter("image_width", value=640), Parameter("image_height", value=512), Parameter("camera_hz", value=10.0)])
executor = MultiThreadedExecutor(num_threads=4)
executor.add_node(node)
spin = threading.Thread(target=executor.spin, daemon=True)
spin.start()
t0, s0 = time.monotonic(), node._sim_time
time.sleep(SECONDS)
wall, sim_s = time.monotonic() - t0, node._sim_time - s0
node.stop()
executor.shutdown()
node.destroy_node()
rclpy.try_shutdown()
print(f"sim node at 640x512 stereo, 10 Hz: {sim_s:.2f} s of sim time in {wall:.1f} s wall, RTF {sim_s / wall:.3f}")
stats = pstats.Stats(profile)
stats.sort_stats("tottime").print_stats(18)
stats.sort_stats("cumulative").print_stats("sim_node|simulation|conversions|builder|camera", 20)
