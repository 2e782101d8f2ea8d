"""A tiny real PyBullet world implementing dexsim_sim.scaling.dr.DRTarget, for the DR tests.

Background plane, a table slab, one box object named "target" and a pinhole camera, rendered
with the TINY renderer at a small size. The real world (dexsim_sim.world) implements the same
protocol; this one exists so the DR tests need nothing but PyBullet.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.scaling.dr import BACKGROUND_SURFACE, OBJECT_SURFACE_PREFIX, TABLE_SURFACE, DistractorSpec

IMAGE_W, IMAGE_H = 64, 48
TEXTURE_COLORS = {"default": None, "wood_light": (0.8, 0.6, 0.4, 1), "wood_dark": (0.45, 0.3, 0.18, 1),
                  "marble": (0.92, 0.92, 0.95, 1), "checker": (0.3, 0.3, 0.3, 1), "stripes": (0.2, 0.4, 0.8, 1),
                  "noise": (0.4, 0.45, 0.3, 1), "grey_floor": (0.5, 0.5, 0.5, 1)}   # flat stand-ins per texture id
NOMINAL_COLORS = {"background": (0.35, 0.4, 0.45, 1), "table": (0.75, 0.75, 0.72, 1), "target": (0.9, 0.8, 0.1, 1)}
BOX_HALF_M = (0.03, 0.02, 0.05)
BOX_XY_M = (0.45, 0.0)
BOX_MASS_KG, BOX_FRICTION = 0.2, 0.8
TABLE_TOP_Z_M = 0.02
CAM_EYE_M, CAM_TARGET_M, CAM_HFOV_DEG = (0.0, 0.0, 0.6), (0.45, 0.0, 0.0), 60.0
LIGHT_NOMINAL_DISTANCE_M = 2.0


class PyBulletDRWorld:
    """DRTarget over a PyBullet DIRECT client."""

    def __init__(self) -> None:
        self.cid = p.connect(p.DIRECT)
        c = self.cid
        plane = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
        plane_vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[5, 5, 0.001], physicsClientId=c)
        self.background = p.createMultiBody(0, plane, plane_vis, physicsClientId=c)
        table_col = p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01], physicsClientId=c)
        table_vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01], physicsClientId=c)
        self.table = p.createMultiBody(0, table_col, table_vis, basePosition=[0.45, 0, 0.01], physicsClientId=c)
        self.objects: dict[str, int] = {}
        self.distractors: list[int] = []
        self.reset_dr()

    def close(self) -> None:
        p.disconnect(self.cid)

    # --- DRTarget ---
    def object_names(self) -> Sequence[str]:
        return ["target"]

    def reset_dr(self) -> None:
        for b in self.distractors:
            p.removeBody(b, physicsClientId=self.cid)
        self.distractors = []
        self._make_box((1.0, 1.0, 1.0))
        p.changeVisualShape(self.background, -1, rgbaColor=NOMINAL_COLORS["background"], physicsClientId=self.cid)
        p.changeVisualShape(self.table, -1, rgbaColor=NOMINAL_COLORS["table"], physicsClientId=self.cid)
        self.light = (0.0, (1.0, 1.0, 1.0), 1.0)
        self.camera = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1.0)

    def set_light(self, distance_offset_m: float, color_scale: Sequence[float], intensity_scale: float) -> None:
        self.light = (float(distance_offset_m), tuple(color_scale), float(intensity_scale))

    def set_texture(self, surface: str, texture_id: str) -> None:
        body = {BACKGROUND_SURFACE: self.background, TABLE_SURFACE: self.table,
                OBJECT_SURFACE_PREFIX + "target": self.objects["target"]}[surface]
        key = surface.removeprefix(OBJECT_SURFACE_PREFIX)
        rgba = TEXTURE_COLORS[texture_id] or NOMINAL_COLORS[key]
        p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=self.cid)

    def set_camera(self, position_offset_m, rpy_offset_rad, focal_scale) -> None:
        self.camera = (tuple(position_offset_m), tuple(rpy_offset_rad), float(focal_scale))

    def add_distractors(self, specs: Sequence[DistractorSpec]) -> None:
        for s in specs:
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.02, 0.02, 0.03], physicsClientId=self.cid)
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[0.02, 0.02, 0.03], rgbaColor=[0.2, 0.2, 0.9, 1],
                                      physicsClientId=self.cid)
            q = p.getQuaternionFromEuler([0, 0, s.yaw])
            self.distractors.append(p.createMultiBody(0.05, col, vis, [s.xy[0], s.xy[1], TABLE_TOP_Z_M + 0.03], q,
                                                      physicsClientId=self.cid))

    def set_object_pose_offset(self, name: str, dxy_m, dyaw_rad) -> None:
        b = self.objects[name]
        pos, _ = p.getBasePositionAndOrientation(b, physicsClientId=self.cid)
        p.resetBasePositionAndOrientation(b, [BOX_XY_M[0] + dxy_m[0], BOX_XY_M[1] + dxy_m[1], pos[2]],
                                          p.getQuaternionFromEuler([0, 0, dyaw_rad]), physicsClientId=self.cid)

    def set_object_scale(self, name: str, scale_xyz) -> None:
        self._make_box(scale_xyz)

    def set_dynamics(self, name: str, mass_scale: float, friction_scale: float) -> None:
        p.changeDynamics(self.objects[name], -1, mass=BOX_MASS_KG * mass_scale,
                         lateralFriction=BOX_FRICTION * friction_scale, physicsClientId=self.cid)

    # --- helpers ---
    def _make_box(self, scale_xyz) -> None:
        if "target" in self.objects:
            p.removeBody(self.objects["target"], physicsClientId=self.cid)
        half = [h * s for h, s in zip(BOX_HALF_M, scale_xyz)]
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=self.cid)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=NOMINAL_COLORS["target"],
                                  physicsClientId=self.cid)
        self.objects["target"] = p.createMultiBody(BOX_MASS_KG, col, vis, [*BOX_XY_M, TABLE_TOP_Z_M + half[2]],
                                                   physicsClientId=self.cid)
        p.changeDynamics(self.objects["target"], -1, lateralFriction=BOX_FRICTION, physicsClientId=self.cid)

    def object_state(self) -> dict[str, np.ndarray]:
        """Pose, AABB size, mass and friction of the target: what SA factors may change."""
        b = self.objects["target"]
        pos, q = p.getBasePositionAndOrientation(b, physicsClientId=self.cid)
        lo, hi = p.getAABB(b, physicsClientId=self.cid)
        info = p.getDynamicsInfo(b, -1, physicsClientId=self.cid)
        yaw = p.getEulerFromQuaternion(q)[2]
        return {"xy": np.array(pos[:2]), "yaw": np.array(yaw), "size": np.subtract(hi, lo),
                "mass": np.array(info[0]), "friction": np.array(info[1])}

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        (dx, dy, dz), (dr, dp, dyaw), focal = self.camera
        fwd = np.subtract(CAM_TARGET_M, CAM_EYE_M)
        fwd = fwd / np.linalg.norm(fwd)
        left = np.cross([0, 0, 1], fwd)
        left /= np.linalg.norm(left)
        up = np.cross(fwd, left)
        R0 = np.stack([fwd, left, up], axis=1)                       # camera body frame: x fwd, y left, z up
        R = R0 @ np.array(p.getMatrixFromQuaternion(p.getQuaternionFromEuler([dr, dp, dyaw]))).reshape(3, 3)
        eye = np.asarray(CAM_EYE_M) + R0 @ [dx, dy, dz]
        view = p.computeViewMatrix(eye.tolist(), (eye + R[:, 0]).tolist(), R[:, 2].tolist())
        hfov = 2 * math.atan(math.tan(math.radians(CAM_HFOV_DEG) / 2) / focal)
        vfov_deg = math.degrees(2 * math.atan(math.tan(hfov / 2) * IMAGE_H / IMAGE_W))
        proj = p.computeProjectionMatrixFOV(vfov_deg, IMAGE_W / IMAGE_H, 0.05, 5.0)
        dist_off, color, intensity = self.light
        falloff = (LIGHT_NOMINAL_DISTANCE_M / (LIGHT_NOMINAL_DISTANCE_M + dist_off)) ** 2
        _, _, rgb, _, seg = p.getCameraImage(
            IMAGE_W, IMAGE_H, view, proj, lightDirection=[0.5, 0.5, 2.0], lightColor=list(color),
            lightDiffuseCoeff=min(1.0, 0.6 * intensity * falloff),
            lightAmbientCoeff=0.4 * min(1.5, intensity * falloff),
            shadow=0, renderer=p.ER_TINY_RENDERER, physicsClientId=self.cid)
        return np.reshape(rgb, (IMAGE_H, IMAGE_W, 4))[..., :3].astype(np.uint8), np.reshape(seg, (IMAGE_H, IMAGE_W))


@pytest.fixture
def dr_world() -> Iterator[PyBulletDRWorld]:
    w = PyBulletDRWorld()
    yield w
    w.close()
