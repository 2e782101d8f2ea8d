"""Stereo rig: intrinsics, CameraInfo, metric depth, disparity and segmentation against PyBullet."""
from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.world.camera import CameraError, StereoRig, WristCamera, renderer_of, setup_renderer

H, W = 96, 128


@pytest.fixture(scope="module")
def scene():
    """A client with a ground plane at z=0 and a small sphere 0.5 m below a downward-looking rig."""
    cid = p.connect(p.DIRECT)
    setup_renderer(cid, "tiny")
    plane = p.createMultiBody(0, p.createCollisionShape(p.GEOM_PLANE, physicsClientId=cid),
                              p.createVisualShape(p.GEOM_BOX, halfExtents=[3, 3, 0.0005], physicsClientId=cid),
                              [0, 0, -0.0005], physicsClientId=cid)
    sphere = p.createMultiBody(0, -1, p.createVisualShape(p.GEOM_SPHERE, radius=0.02, rgbaColor=[1, 0, 0, 1],
                                                          physicsClientId=cid), [0.02, 0.01, 0.2], physicsClientId=cid)
    rig = StereoRig(width=W, height=H, hfov_deg=70.0, baseline=0.06, position=(0.0, 0.0, 0.7), look_at=(0.0, 0.0, 0.0))
    yield cid, rig, plane, sphere, rig.render(cid)
    p.disconnect(cid)


def test_intrinsics_and_camera_info():
    rig = StereoRig(width=640, height=512, hfov_deg=75.0, baseline=0.05)
    fx = 320.0 / math.tan(math.radians(37.5))
    left, right = rig.camera_info("left"), rig.camera_info("right")
    assert left["K"] == pytest.approx([fx, 0, 320, 0, fx, 256, 0, 0, 1])
    assert left["P"][3] == 0.0 and right["P"][3] == pytest.approx(-fx * 0.05)
    assert right["P"][:3] == pytest.approx([fx, 0, 320])
    assert (left["width"], left["height"]) == (640, 512)
    assert left["frame_id"] == "stereo_left_optical_frame" and right["frame_id"] == "stereo_right_optical_frame"


def test_optical_frame_and_pose_forms_agree():
    rig = StereoRig(position=(1.0, 0.0, 0.5), look_at=(0.0, 0.0, 0.5))
    optical = rig.optical_pose("left")
    assert optical[:3, 2] == pytest.approx([-1, 0, 0])         # z forward (towards the target)
    assert optical[:3, 1] == pytest.approx([0, 0, -1])         # y down
    assert rig.optical_pose("right")[:3, 3] - optical[:3, 3] == pytest.approx(0.05 * optical[:3, 0])
    again = StereoRig(pose=rig.pose, position=None, look_at=None)
    assert again.optical_pose("left") == pytest.approx(optical)


def test_bad_camera_values_raise():
    with pytest.raises(CameraError, match="baseline"):
        StereoRig(baseline=0.0)
    with pytest.raises(CameraError, match="hfov_deg"):
        StereoRig(hfov_deg=190.0)
    with pytest.raises(CameraError, match="renderer: unknown 'vulkan'"):
        setup_renderer(12345, "vulkan")


def test_image_types(scene):
    _, _, _, _, img = scene
    assert img["left_rgb"].shape == (H, W, 3) and img["left_rgb"].dtype == np.uint8
    assert img["depth"].shape == (H, W) and img["depth"].dtype == np.float32
    assert img["seg"].shape == (H, W) and img["seg"].dtype == np.int32


def test_depth_of_a_plane_is_metric(scene):
    _, _, plane, _, img = scene
    floor = img["seg"] == plane
    assert floor.mean() > 0.8
    assert np.abs(img["depth"][floor] - 0.7).max() < 0.01     # looking straight down: z = 0.7 m everywhere


def test_disparity_matches_baseline_over_depth(scene):
    cid, rig, _, sphere, img = scene
    right_seg = rig.camera.render(cid, rig.optical_pose("right"))["seg"]
    xl = np.argwhere(img["seg"] == sphere)[:, 1].mean()
    xr = np.argwhere(right_seg == sphere)[:, 1].mean()
    z = img["depth"][img["seg"] == sphere].mean()
    assert z == pytest.approx(0.48, abs=0.02)                   # sphere top 0.7 - 0.22
    assert abs((xl - xr) - rig.fx * rig.baseline / z) < 1.0
    u, v, depth = rig.project(np.array([[0.02, 0.01, 0.2]]))[0]
    assert abs(u - xl) < 1.0 and depth == pytest.approx(0.5)


def test_segmentation_ids_are_body_ids(scene):
    _, _, plane, sphere, img = scene
    assert set(np.unique(img["seg"]).tolist()) <= {-1, plane, sphere}
    assert (img["seg"] == sphere).sum() > 10


def test_wrist_camera_looks_along_link_x():
    cid = p.connect(p.DIRECT)
    try:
        setup_renderer(cid, "tiny")
        body = p.createMultiBody(0, -1, -1, [0, 0, 0.5], physicsClientId=cid,
                                 linkMasses=[0.0], linkCollisionShapeIndices=[-1], linkVisualShapeIndices=[-1],
                                 linkPositions=[[0, 0, 0]], linkOrientations=[p.getQuaternionFromEuler([0, math.pi / 2, 0])],
                                 linkInertialFramePositions=[[0, 0, 0]], linkInertialFrameOrientations=[[0, 0, 0, 1]],
                                 linkParentIndices=[0], linkJointTypes=[p.JOINT_FIXED], linkJointAxis=[[0, 0, 1]])
        cam = WristCamera(body, 0, width=32, height=24)
        optical = cam.optical_pose(cid)
        assert optical[:3, 2] == pytest.approx([0, 0, -1], abs=1e-6)   # link x points down -> looks down
        assert cam.render(cid)["depth"].shape == (24, 32)
        assert renderer_of(cid) == "tiny"
    finally:
        p.disconnect(cid)


def test_auto_renderer_draws_the_scene():
    """EGL when the plugin loads here, else TINY; either way a box in view shows up in rgb and seg."""
    cid = p.connect(p.DIRECT)
    try:
        name = setup_renderer(cid, "auto")
        assert name in ("egl", "tiny") and renderer_of(cid) == name
        box = p.createMultiBody(0, -1, p.createVisualShape(p.GEOM_BOX, halfExtents=[0.1, 0.1, 0.1], rgbaColor=[0, 1, 0, 1],
                                                           physicsClientId=cid), [0, 0, 0], physicsClientId=cid)
        img = StereoRig(width=64, height=48, position=(0.6, 0, 0.3), look_at=(0, 0, 0)).render(cid)
        centre = img["seg"][24, 32]
        assert centre == box and img["left_rgb"][24, 32, 1] > img["left_rgb"][24, 32, 0]
    finally:
        p.disconnect(cid)


def test_egl_world_refuses_to_render_from_another_thread():
    """PyBullet's EGL context renders only in the thread that created it; elsewhere it silently
    returns the last frame (the sim node once published one frozen image for both cameras)."""
    import threading

    from dexsim_sim.world.builder import World
    from dexsim_sim.world.camera import CameraError
    from dexsim_sim.tasks.base import SCENES_DIR

    world = World.build(SCENES_DIR / "grasp_wx250s.yaml", renderer="auto", image_size=(32, 40))
    try:
        own = world.render()
        assert np.abs(own["left_rgb"].astype(int) - own["right_rgb"].astype(int)).mean() > 0.5   # a real stereo pair
        errors = []

        def other():
            try:
                world.render()
            except CameraError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        if world.renderer == "egl":
            assert errors and "thread" in str(errors[0])
        else:
            assert not errors          # the CPU renderer works from any thread
    finally:
        world.close()


@pytest.mark.parametrize("renderer", ["tiny", "auto"])
def test_skipping_segmentation_leaves_the_images_unchanged(renderer):
    """The sim node renders without the segmentation pass (and never for the right eye): the rgb
    pair and the left depth must be exactly what a full render gives."""
    cid = p.connect(p.DIRECT)
    try:
        setup_renderer(cid, renderer)
        p.createMultiBody(0, -1, p.createVisualShape(p.GEOM_BOX, halfExtents=[0.1, 0.05, 0.1], rgbaColor=[0, 1, 0, 1],
                                                     physicsClientId=cid), [0, 0, 0], physicsClientId=cid)
        rig = StereoRig(width=64, height=48, position=(0.6, 0.1, 0.3), look_at=(0, 0, 0))
        rig.render(cid)                                    # a new context's first frame is thrown away
        full = rig.render(cid, depth_right=True)
        lean = rig.render(cid, depth_right=True, segmentation=False)
        assert "seg" in full and "seg" not in lean
        for key in ("left_rgb", "right_rgb", "depth", "right_depth"):
            np.testing.assert_array_equal(full[key], lean[key])
        assert (full["left_rgb"] != full["right_rgb"]).any()
    finally:
        p.disconnect(cid)
