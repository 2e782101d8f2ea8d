"""cProfile of the policy node's per-frame work (what PolicyNode._act does: image conversion,
observation, inference, chunk timing, blending, safety filter) on 640x512 stereo with the shipped
demo checkpoint, one torch thread. Usage: .venv/bin/python scripts/profile/policy_loop.py [FRAMES]"""
import cProfile
import pstats
import sys
import time

import numpy as np
import torch

from dexsim_policy.controller import make_arms_controller, policy_observation
from dexsim_policy.runtime import PolicyRuntime
from dexsim_sim.robots.registry import get_robot
from dexsim_sim.ros import conversions as cv

torch.set_num_threads(1)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
runtime = PolicyRuntime.load("dexsim_bringup/dexsim_bringup/resources/demo_policy", device="cpu", seed=0)
robot = get_robot("wx250s")
controller = make_arms_controller(runtime, robot, ensemble_coeff="checkpoint")
image = np.random.default_rng(0).integers(0, 255, (512, 640, 3), dtype=np.uint8)
msgs = [cv.image_to_msg(image, "rgb8", 0.0, side) for side in ("left", "right")]
q = np.asarray(robot.home, float)


def frame(k: int) -> None:
    stamp = 1.0 + 0.1 * k
    left, right = (cv.msg_rgb(m) for m in msgs)
    chunk = controller.infer(policy_observation(left, right, q, 0.05), stamp)
    if chunk is not None:
        controller.command_chunk(chunk, stamp, stamp + 0.01, [q])


for k in range(5):
    frame(k)
t0 = time.perf_counter()
for k in range(5, 5 + N):
    frame(k)
print(f"per frame {1e3 * (time.perf_counter() - t0) / N:.2f} ms")
profile = cProfile.Profile()
profile.enable()
for k in range(5 + N, 5 + 2 * N):
    frame(k)
profile.disable()
pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
