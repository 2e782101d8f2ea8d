"""The robot's own pixels from its URDF and joint state (scene projection masks them)."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.projection.robot_mask import robot_mask


@pytest.fixture(scope="module")
def sim_view():
    env = DexSimEnv(task="grasp", robot="wx250s", image_size=(240, 320), renderer="tiny")
    env.reset(seed=3)
    world = env.world
    q = np.asarray(world.robot.spec.home) + np.array([0.4, -0.2, 0.3, 0.0, 0.2, 0.5])   # not the home pose
    world.set_robot_joints(q, gripper=0.5)
    images = world.render()
    rig = world.rig
    base_from_optical = np.linalg.inv(world.base_matrix()) @ rig.optical_pose("left")
    truth = images["seg"] == world.robot.body
    yield dict(q=dict(zip(world.robot.spec.arm_joints, q)), gap=float(world.gripper_openings()[0]), rig=rig,
               base_from_optical=base_from_optical, truth=truth)
    env.close()


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_mask_matches_the_simulators_segmentation(sim_view):
    v = sim_view
    mask = robot_mask("wx250s", v["base_from_optical"], v["rig"].K, v["rig"].width, v["rig"].height, v["q"],
                      gripper_gap=v["gap"], dilate_px=0)
    assert v["truth"].sum() > 500 and _iou(mask, v["truth"]) > 0.97
    home = robot_mask("wx250s", v["base_from_optical"], v["rig"].K, v["rig"].width, v["rig"].height, dilate_px=0)
    assert _iou(home, v["truth"]) < 0.9                     # the joint state matters


def test_an_off_centre_principal_point_shifts_the_mask(sim_view):
    v, dx = sim_view, 12
    K = v["rig"].K.copy()
    base = robot_mask("wx250s", v["base_from_optical"], K, v["rig"].width, v["rig"].height, v["q"], dilate_px=0)
    K[0, 2] += dx
    shifted = robot_mask("wx250s", v["base_from_optical"], K, v["rig"].width, v["rig"].height, v["q"], dilate_px=0)
    assert _iou(np.roll(base, dx, axis=1), shifted) > 0.97


def test_the_bundled_pair_no_longer_reports_the_arm(tmp_path):
    """`dexsim project scene` on the bundled pair: the arm's pixels are masked before clustering,
    so no unmatched cluster covers them (before, the arm was one)."""
    from dexsim_sim.projection.pipeline import (default_base_pose, demo_inputs, load_camera_info, load_camera_pose,
                                                load_image, project_stereo)

    paths = demo_inputs()
    base_pose = default_base_pose("wx250s")
    left_info, right_info = load_camera_info(paths["camera_info"])
    args = (load_image(paths["left"], "left"), load_image(paths["right"], "right"), left_info, right_info,
            load_camera_pose(paths["camera_pose"], base_pose), base_pose)
    plain, masked = project_stereo(*args), project_stereo(*args, robot="wx250s")
    assert masked.robot_pixels > 1000 and plain.robot_pixels == 0
    assert len(masked.projection.objects) == len(plain.projection.objects) == 4
    intr = masked.frame.intrinsics
    arm = robot_mask("wx250s", args[4], intr.K, intr.width, intr.height)

    def on_arm(result):
        """The share of the arm's pixels inside the bounding box of some unmatched cluster."""
        covered = np.zeros_like(arm)
        for obs, _ in result.projection.unmatched:
            u0, v0, u1, v1 = obs.pixel_bbox
            covered[v0:v1 + 1, u0:u1 + 1] = True
        return (covered & arm).sum() / arm.sum()

    assert on_arm(masked) < 0.3 and on_arm(plain) > 0.6
