"""Ground-truth stereo captures of simulator scenes, for testing and demonstrating the projection.

A scene is built with :class:`dexsim_sim.world.builder.World` and rendered with its
:class:`~dexsim_sim.world.camera.StereoRig`. Stereo matching needs surface texture that the plain
asset colours lack, so :func:`apply_speckle` gives the table and every object a band-limited grey
noise texture (seeded) that the body's colour tints: colours stay what the asset library says,
and SGBM finds texture everywhere. Everything is rendered with ER_TINY_RENDERER (deterministic on
any machine), and the capture carries the rig's CameraInfo dicts and the left optical frame in the
robot base frame, i.e. everything a real stereo camera plus its extrinsic calibration would give.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pybullet as p

from ..robots.transforms import pose_to_matrix
from ..world.assets import cache_dir
from ..world.builder import World
from ..world.scene import Scene
from .hand_track import PinholeCamera, SyntheticDemo, SyntheticDemoConfig, synthesize_demo

SPECKLE_SIZE_PX = 512                  # texture resolution
SPECKLE_COARSE_CELLS = 32              # value-noise grid of the coarse octave (cells per side)
SPECKLE_FINE_CELLS = 128               # ... and of the fine octave
TABLE_SPECKLE_CONTRAST = 0.6           # shade = 1 - contrast * noise, noise in [0, 1]
OBJECT_SPECKLE_CONTRAST = 0.5


@dataclass(frozen=True)
class StereoCapture:
    """A rendered rectified pair with its calibration and the ground truth behind it."""

    left_rgb: np.ndarray               # (H, W, 3) uint8
    right_rgb: np.ndarray              # (H, W, 3) uint8
    depth: np.ndarray                  # (H, W) float32 m along the optical axis (left)
    seg: np.ndarray                    # (H, W) int32 PyBullet body uid, -1 background
    left_info: dict                    # CameraInfo dicts (StereoRig.camera_info)
    right_info: dict
    base_from_optical: np.ndarray      # 4x4: left optical frame in the robot base frame
    world_from_base: np.ndarray        # 4x4: robot base in the world (table) frame


def speckle_texture(seed: int, contrast: float, size_px: int = SPECKLE_SIZE_PX) -> Path:
    """PNG of grey band-limited value noise (two octaves, bilinear: minified views do not alias)."""
    if not 0.0 < contrast < 1.0:
        raise ValueError(f"contrast: must be in (0, 1), got {contrast}")
    path = cache_dir("textures") / f"speckle_{seed}_{contrast:.3f}_{size_px}.png"
    if not path.exists():
        rng = np.random.default_rng(seed)
        octaves = [cv2.resize(rng.random((cells, cells)), (size_px, size_px), interpolation=cv2.INTER_LINEAR)
                   for cells in (SPECKLE_COARSE_CELLS, SPECKLE_FINE_CELLS)]
        shade = 1.0 - contrast * (0.5 * octaves[0] + 0.5 * octaves[1])
        grey = np.clip(shade * 255.0 + 0.5, 0, 255).astype(np.uint8)
        tmp = path.with_name(f".{path.name}.{np.random.default_rng().integers(1 << 30)}.png")
        if not cv2.imwrite(str(tmp), grey):
            raise OSError(f"speckle texture: could not write {str(tmp)!r}")
        tmp.replace(path)
    return path


def apply_speckle(world: World, seed: int = 0) -> None:
    """Give the table and every object its own seeded speckle texture (tinted by its colour)."""
    bodies = [(world.table, TABLE_SPECKLE_CONTRAST)] + [(h.body, OBJECT_SPECKLE_CONTRAST)
                                                         for h in world.objects.values()]
    for k, (body, contrast) in enumerate(bodies):
        tex = p.loadTexture(str(speckle_texture(seed * 1000 + k, contrast)), physicsClientId=world.client)
        for link in range(-1, p.getNumJoints(body, physicsClientId=world.client)):
            p.changeVisualShape(body, link, textureUniqueId=tex, physicsClientId=world.client)


def capture_stereo(world: World) -> StereoCapture:
    """Render the world's stereo rig and package the pair with its calibration."""
    images = world.render()
    world_from_base = pose_to_matrix(np.asarray(world.scene.robot.base_pose, float))
    return StereoCapture(images["left_rgb"], images["right_rgb"], images["depth"], images["seg"],
                         world.rig.camera_info("left"), world.rig.camera_info("right"),
                         np.linalg.inv(world_from_base) @ world.rig.optical_pose("left"), world_from_base)


def render_scene(scene: Scene, image_size: tuple[int, int] | None = None, speckle_seed: int = 0
                 ) -> tuple[StereoCapture, dict[str, np.ndarray]]:
    """Build ``scene`` (tiny renderer), speckle it, render; also the world-frame centre (x, y, z of
    the bounding-box centre on the table top) of every object, by name. ``image_size`` is (H, W)."""
    world = World.build(scene, renderer="tiny", image_size=image_size)
    try:
        apply_speckle(world, speckle_seed)
        capture = capture_stereo(world)
        centres = {}
        for name, h in world.objects.items():
            pose = pose_to_matrix(world.object_pose(name))
            offset = np.array([h.body_offset[0], h.body_offset[1], 0.0, 1.0])
            centres[name] = (pose @ offset)[:3]
        return capture, centres
    finally:
        world.close()


GRASP_DEPTH_M = 0.02                   # grasp centre this far below the object's top ...
MIN_GRASP_HEIGHT_M = 0.015             # ... but at least this far above the table
DEMO_LIFT_HEIGHT_M = 0.15              # the hand lifts the object this high
DEMO_PLACE_SHIFT_M = (0.0, 0.1, 0.0)   # and puts it down this far away (base frame)


def left_camera(world: World) -> PinholeCamera:
    """The rig's left camera as a :class:`~.hand_track.PinholeCamera` posed in the robot base frame."""
    rig = world.rig
    return PinholeCamera(rig.K, rig.width, rig.height, np.linalg.inv(world.base_matrix()) @ rig.optical_pose("left"))


def synthesize_grasp_demo(world: World, object_name: str, seed: int = 0,
                          offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> SyntheticDemo:
    """A human hand demo (seen by the rig's left camera) that grasps ``object_name`` where it
    stands in ``world`` top-down across its narrower side, lifts it and puts it down nearby;
    ground truth in the robot base frame. ``offset_m`` moves the whole demonstration (base frame)."""
    h = world.object(object_name)
    pose = world.object_pose(object_name)
    ext = h.asset.extents * h.scale
    base_inv = np.linalg.inv(world.base_matrix())
    centre = pose_to_matrix(pose) @ np.array([h.body_offset[0], h.body_offset[1], 0.0, 1.0])
    grasp_world = centre[:3] + np.array([0.0, 0.0, max(ext[2] - GRASP_DEPTH_M, MIN_GRASP_HEIGHT_M)])
    grasp = (base_inv @ np.append(grasp_world, 1.0))[:3] + np.asarray(offset_m, float)
    rot = pose_to_matrix(pose)[:3, :3]
    closing = base_inv[:3, :3] @ (rot[:, 0] if ext[0] <= ext[1] else rot[:, 1])   # across the narrower side
    config = SyntheticDemoConfig(object_position=tuple(grasp), place_position=tuple(grasp + DEMO_PLACE_SHIFT_M),
                                 object_width_m=float(min(ext[:2])), yaw_rad=math.atan2(closing[1], closing[0]),
                                 lift_height_m=DEMO_LIFT_HEIGHT_M, seed=seed)
    return synthesize_demo(config, left_camera(world))
