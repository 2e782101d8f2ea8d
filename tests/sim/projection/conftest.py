"""Ground-truth stereo renders of tabletop scenes for the projection tests, made with the real
simulator: a scene (robot base = world origin, so base frame = world frame here) built by
``world.builder.World``, rendered by its ``StereoRig`` with speckle textures
(``projection.synthetic_scene``) so that stereo matching has texture to work on."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.projection.synthetic_scene import apply_speckle, capture_stereo
from dexsim_sim.world.assets import default_library
from dexsim_sim.world.builder import World
from dexsim_sim.world.scene import Scene

EYE, TARGET = (0.95, 0.0, 0.6), (0.4, 0.0, 0.0)      # base frame (m)
TABLE_SIZE = (1.8, 1.2, 0.04)


@dataclass(frozen=True)
class PlacedAsset:
    asset_id: str
    xy: tuple[float, float]     # world = base frame in these tests (m): the asset's base origin
    yaw: float = 0.0
    scale: float = 1.0


@dataclass
class RenderedPair:
    left: np.ndarray
    right: np.ndarray
    depth: np.ndarray
    seg: np.ndarray
    left_info: dict
    right_info: dict
    base_from_optical: np.ndarray
    table_uid: int


def placed_scene(objects: list[PlacedAsset], width: int, height: int) -> Scene:
    lib = default_library()
    return Scene.from_dict({
        "name": "projection_test", "robot": {"name": "sr3", "base_pose": [0, 0, 0, 0, 0, 0, 1]},
        "table": {"size": list(TABLE_SIZE), "height": 0.0, "color": [0.85, 0.72, 0.55, 1.0]},
        "cameras": {"stereo": {"position": list(EYE), "look_at": list(TARGET), "baseline": 0.05,
                               "width": width, "height": height, "hfov_deg": 75.0}},
        "objects": [{"name": f"obj_{i}", "category": lib.get(o.asset_id).category, "asset": o.asset_id,
                     "pose": [o.xy[0], o.xy[1], 0.0, 0.0, 0.0, math.sin(o.yaw / 2), math.cos(o.yaw / 2)],
                     "scale": [o.scale] * 3} for i, o in enumerate(objects)]})


class WorldStereoRenderer:
    """``render(objects)`` builds the scene in a fresh World, renders the pair and closes it."""

    def __init__(self, width: int = 640, height: int = 512, seed: int = 0):
        self.width, self.height, self.seed = width, height, seed

    def render(self, objects: list[PlacedAsset], with_table: bool = True) -> tuple[RenderedPair, list[int]]:
        world = World.build(placed_scene(objects, self.width, self.height), renderer="tiny")
        try:
            apply_speckle(world, self.seed)
            if not with_table:                       # nothing horizontal left: table and floor go
                for body in (world.table, world.floor):
                    p.removeBody(body, physicsClientId=world.client)
            cap = capture_stereo(world)
            uids = [world.objects[f"obj_{i}"].body for i in range(len(objects))]
            return RenderedPair(cap.left_rgb, cap.right_rgb, cap.depth, cap.seg, cap.left_info, cap.right_info,
                                cap.base_from_optical, world.table), uids
        finally:
            world.close()


@pytest.fixture(scope="module")
def stereo_renderer():
    return WorldStereoRenderer()
