"""A small PyBullet stereo renderer of tabletop scenes for projection tests.

Objects are the asset library's URDFs with a procedurally generated noise texture tinted by their
colour (stereo matching needs texture); the table has a speckle texture. Every image is rendered with
ER_TINY_RENDERER in DIRECT mode, so the tests need no display and no GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pybullet as p
import pytest

from dexsim_sim.projection.stereo import camera_info_dicts, optical_frame_from_look_at
from dexsim_sim.world.assets import default_library

NEAR_M, FAR_M = 0.05, 5.0
TEXTURE_SIZE_PX = 512


@dataclass(frozen=True)
class PlacedAsset:
    asset_id: str
    xy: tuple[float, float]     # world = base frame in these tests (m)
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


def _noise_texture(path: Path, color, rng: np.random.Generator, contrast: float) -> Path:
    """Band-limited value noise (bilinear upsampling), so minified views do not alias."""
    coarse = cv2.resize(rng.random((TEXTURE_SIZE_PX // 16, TEXTURE_SIZE_PX // 16)), (TEXTURE_SIZE_PX,) * 2,
                        interpolation=cv2.INTER_LINEAR)
    fine = cv2.resize(rng.random((TEXTURE_SIZE_PX // 4, TEXTURE_SIZE_PX // 4)), (TEXTURE_SIZE_PX,) * 2,
                      interpolation=cv2.INTER_LINEAR)
    shade = 1.0 - contrast * (0.5 * coarse + 0.5 * fine)
    rgb = np.clip(np.asarray(color)[None, None, :] * shade[..., None] * 255.0, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


class TabletopStereoRenderer:
    """Owns one DIRECT PyBullet client; ``render(objects)`` rebuilds the scene and renders a pair."""

    def __init__(self, tmp_dir: Path, width: int = 640, height: int = 512, hfov_deg: float = 75.0,
                 baseline_m: float = 0.05, eye=(0.95, 0.0, 0.6), target=(0.4, 0.0, 0.0), seed: int = 0):
        self.client = p.connect(p.DIRECT)
        self.tmp = tmp_dir
        self.width, self.height, self.hfov_deg, self.baseline = width, height, hfov_deg, baseline_m
        self.eye, self.target = np.asarray(eye, float), np.asarray(target, float)
        self.rng = np.random.default_rng(seed)
        self.left_info, self.right_info = camera_info_dicts(width, height, hfov_deg, baseline_m)
        self.base_from_optical = optical_frame_from_look_at(self.eye, self.target)
        self._n_textures = 0

    def close(self) -> None:
        p.disconnect(self.client)

    def _texture(self, color, contrast: float) -> int:
        self._n_textures += 1
        path = _noise_texture(self.tmp / f"tex_{self._n_textures}.png", color, self.rng, contrast)
        return p.loadTexture(str(path), physicsClientId=self.client)

    def _table(self, size, top_z: float) -> int:
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[e / 2 for e in size], physicsClientId=self.client)
        body = p.createMultiBody(0, -1, vis, basePosition=(0.4, 0.0, top_z - size[2] / 2), physicsClientId=self.client)
        p.changeVisualShape(body, -1, rgbaColor=[1, 1, 1, 1], textureUniqueId=self._texture((0.75, 0.65, 0.5), 0.6),
                            physicsClientId=self.client)
        return body

    def _asset_body(self, placed: PlacedAsset, table_top_z: float) -> int:
        asset = default_library().get(placed.asset_id)
        scale = np.full(3, placed.scale)
        quat = p.getQuaternionFromEuler([0, 0, placed.yaw])
        rot = np.asarray(p.getMatrixFromQuaternion(quat)).reshape(3, 3)
        pos = np.array([placed.xy[0], placed.xy[1], table_top_z]) + rot @ asset.body_offset(scale)
        body = p.loadURDF(str(asset.urdf(scale)), pos.tolist(), quat, useFixedBase=True, physicsClientId=self.client)
        tex = self._texture(asset.color[:3], 0.5)
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.client)):
            p.changeVisualShape(body, link, rgbaColor=[1, 1, 1, 1], textureUniqueId=tex, physicsClientId=self.client)
        return body

    def render(self, objects: list[PlacedAsset], table_top_z: float = 0.0, with_table: bool = True
               ) -> tuple[RenderedPair, list[int]]:
        p.resetSimulation(physicsClientId=self.client)
        if with_table:
            self._table((1.6, 1.2, 0.04), table_top_z)
        uids = [self._asset_body(o, table_top_z) for o in objects]
        return self._render_pair(), uids

    def _render_pair(self) -> RenderedPair:
        fx = self.left_info["P"][0]
        vfov = math.degrees(2 * math.atan((self.height / 2) / fx))
        proj = p.computeProjectionMatrixFOV(vfov, self.width / self.height, NEAR_M, FAR_M)
        x_axis = self.base_from_optical[:3, 0]
        images = []
        for offset in (0.0, self.baseline):
            eye, target = self.eye + offset * x_axis, self.target + offset * x_axis
            view = p.computeViewMatrix(eye.tolist(), target.tolist(), [0, 0, 1])
            _, _, rgba, zbuf, seg = p.getCameraImage(self.width, self.height, view, proj,
                                                      lightDirection=[0.3, 0.2, 1.0], shadow=0,
                                                      renderer=p.ER_TINY_RENDERER, physicsClientId=self.client)
            images.append((np.asarray(rgba, np.uint8).reshape(self.height, self.width, 4)[..., :3],
                           np.asarray(zbuf, np.float32).reshape(self.height, self.width),
                           np.asarray(seg, np.int32).reshape(self.height, self.width)))
        (left, zbuf, seg), (right, _, _) = images
        ray_depth = FAR_M * NEAR_M / (FAR_M - (FAR_M - NEAR_M) * zbuf)
        return RenderedPair(left, right, ray_depth.astype(np.float32), seg, self.left_info, self.right_info,
                            self.base_from_optical)


@pytest.fixture(scope="module")
def stereo_renderer(tmp_path_factory):
    renderer = TabletopStereoRenderer(tmp_path_factory.mktemp("textures"))
    yield renderer
    renderer.close()
