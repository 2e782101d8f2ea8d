"""The sim node publishes LIVE stereo images with the renderer users get by default (EGL where it
loads): a real stereo pair (left differs from right by the disparity), and frames that follow the
scene (a reset to another seed moves the objects). PyBullet's EGL context renders only in the thread
that created it; the sim node once built its world in one thread and rendered in another, and
published one frozen frame on both topics for its whole life."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from dexsim_msgs.srv import ResetEpisode
from dexsim_sim.ros import conversions as cv

pytestmark = pytest.mark.ros
START_S = 60.0


def _mean_abs(a, b) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_stereo_topics_are_live_and_distinct(ros):
    node = ros.node
    got: dict[str, list] = {"left": [], "right": []}
    for side in got:
        node.create_subscription(Image, f"/stereo/{side}/image_rect", lambda m, s=side: got[s].append(m),
                                 qos_profile_sensor_data)
    reset = node.create_client(ResetEpisode, "/dexsim/reset")
    proc = ros.spawn([sys.executable, "-m", "dexsim_sim.nodes.sim_node", "--ros-args", "-p", "robot:=wx250s",
                      "-p", "image_width:=64", "-p", "image_height:=48", "-p", "real_time_factor:=0",
                      "-p", "seed:=3"], "sim_node_images")
    assert reset.wait_for_service(timeout_sec=START_S), ros.peer_log(proc)

    def pair_after_reset(seed: int):
        assert ros.call(reset, ResetEpisode.Request(seed=seed), 30.0).success
        for frames in got.values():
            frames.clear()
        assert ros.wait_for(lambda: len(got["left"]) >= 2 and len(got["right"]) >= 2, 30.0), ros.peer_log(proc)
        return cv.msg_to_image(got["left"][-1]), cv.msg_to_image(got["right"][-1])

    left_a, right_a = pair_after_reset(3)
    left_b, _ = pair_after_reset(4)
    assert _mean_abs(left_a, right_a) > 1.0, "left and right are the same image: not a stereo pair"
    assert _mean_abs(left_a, left_b) > 0.5, "the image did not change when the scene did: a frozen frame"
