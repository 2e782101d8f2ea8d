"""Rectified stereo rig, wrist camera and renderer selection (docs/CONTRACTS.md "Stereo camera").

Frames: ``stereo_left_link`` is x forward, y left, z up; ``stereo_left_optical_frame`` is z forward,
x right, y down. The right camera sits ``baseline`` metres along the left optical +x axis with the
same orientation (an ideal rectified pair). ``fx = fy = (W/2)/tan(HFOV/2)``, principal point at the
image centre. Depth is metres along the optical axis (z), recovered from PyBullet's non-linear depth
buffer with the rig's near/far planes.

Renderer: :func:`setup_renderer` must run on a client BEFORE any body is created; it loads the EGL
plugin when it can (``"egl"``) and otherwise uses ER_TINY_RENDERER (``"tiny"``).
"""
from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from ..robots.transforms import matrix_to_quat, pose_to_matrix, quat_to_matrix

RENDERERS = ("auto", "egl", "tiny")
RENDERER_ENV = "DEXSIM_RENDERER"        # overrides the "auto" choice
# stereo_left_link (x fwd, y left, z up) -> optical (z fwd, x right, y down): columns are the
# optical axes expressed in the link frame.
LINK_TO_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
LOOK_AT_UP_HINT = np.array([0.0, 0.0, 1.0])
LOOK_AT_FALLBACK_UP = np.array([1.0, 0.0, 0.0])   # when looking straight up/down


class CameraError(ValueError):
    """Bad camera configuration or a renderer that cannot be used."""


_RENDERER_BY_CLIENT: dict[int, str] = {}


def setup_renderer(client: int, prefer: str = "auto") -> str:
    """Choose the renderer for ``client`` (call before creating any body); returns "egl" or "tiny".

    ``"auto"`` reads ``$DEXSIM_RENDERER`` (egl|tiny) and otherwise tries EGL, falling back to tiny.
    ``"egl"`` raises :class:`CameraError` when the plugin does not load.
    """
    if prefer not in RENDERERS:
        raise CameraError(f"renderer: unknown {prefer!r} (valid: {RENDERERS})")
    if prefer == "auto":
        prefer = os.environ.get(RENDERER_ENV, "auto")
        if prefer not in RENDERERS:
            raise CameraError(f"${RENDERER_ENV}: unknown renderer {prefer!r} (valid: {RENDERERS})")
    if client in _RENDERER_BY_CLIENT:
        return _RENDERER_BY_CLIENT[client]
    chosen = "tiny"
    if prefer in ("auto", "egl"):
        if p.getNumBodies(physicsClientId=client) > 0:
            raise CameraError("renderer: EGL must be set up before any body is created")
        spec = importlib.util.find_spec("eglRenderer")
        plugin = -1
        if spec is not None and spec.origin:
            plugin = p.loadPlugin(spec.origin, "_eglRendererPlugin", physicsClientId=client)
        if plugin >= 0:
            chosen = "egl"
        elif prefer == "egl":
            raise CameraError("renderer: the EGL plugin did not load (need libEGL / Mesa)")
    _RENDERER_BY_CLIENT[client] = chosen
    return chosen


def renderer_of(client: int) -> str:
    """The renderer set up for ``client`` ("tiny" when :func:`setup_renderer` was never called)."""
    return _RENDERER_BY_CLIENT.get(client, "tiny")


def forget_client(client: int) -> None:
    """Drop the renderer record of a disconnected client (client ids are reused by PyBullet)."""
    _RENDERER_BY_CLIENT.pop(client, None)


def look_at_rotation(position, look_at) -> np.ndarray:
    """Rotation of ``stereo_left_link`` (x towards the target, z as close to world up as possible)."""
    x = np.asarray(look_at, float) - np.asarray(position, float)
    x /= np.linalg.norm(x)
    up = LOOK_AT_UP_HINT if abs(x @ LOOK_AT_UP_HINT) < 0.999 else LOOK_AT_FALLBACK_UP
    y = np.cross(up, x)
    y /= np.linalg.norm(y)
    return np.column_stack([x, y, np.cross(x, y)])


@dataclass
class Light:
    """The single directional light the renderers support (from ``position`` towards the origin)."""

    position: tuple[float, float, float] = (0.5, 0.5, 2.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    ambient: float = 0.6       # ambient coefficient (TINY renderer)
    diffuse: float = 0.35
    specular: float = 0.05

    def kwargs(self) -> dict:
        return dict(lightDirection=list(self.position),
                    lightColor=[c * self.intensity for c in self.color],
                    lightAmbientCoeff=self.ambient, lightDiffuseCoeff=self.diffuse,
                    lightSpecularCoeff=self.specular, shadow=0)


@dataclass
class PinholeCamera:
    """One pinhole camera: intrinsics from (width, height, hfov) and an optical-frame pose."""

    width: int
    height: int
    hfov_deg: float
    near: float = 0.01    # m
    far: float = 5.0      # m

    def __post_init__(self) -> None:
        for key in ("width", "height"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise CameraError(f"{key}: expected a positive integer (pixels), got {v!r}")
        if not 0.0 < self.hfov_deg < 180.0:
            raise CameraError(f"hfov_deg: must lie in (0, 180), got {self.hfov_deg!r}")
        if not 0.0 < self.near < self.far:
            raise CameraError(f"near/far: need 0 < near < far, got near={self.near!r}, far={self.far!r}")

    @property
    def fx(self) -> float:
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.width / 2.0], [0.0, self.fx, self.height / 2.0], [0.0, 0.0, 1.0]])

    def projection_matrix(self) -> list[float]:
        vfov_deg = math.degrees(2.0 * math.atan((self.height / 2.0) / self.fx))
        return p.computeProjectionMatrixFOV(vfov_deg, self.width / self.height, self.near, self.far)

    @staticmethod
    def view_matrix(optical_pose: np.ndarray) -> list[float]:
        """OpenGL view matrix for a 4x4 optical-frame pose (z forward, y down)."""
        eye = optical_pose[:3, 3]
        return p.computeViewMatrix(eye.tolist(), (eye + optical_pose[:3, 2]).tolist(), (-optical_pose[:3, 1]).tolist())

    def depth_from_buffer(self, buffer: np.ndarray) -> np.ndarray:
        """Metres along the optical axis from PyBullet's [0, 1] depth buffer."""
        buffer = np.asarray(buffer, dtype=np.float64)
        return (self.far * self.near / (self.far - (self.far - self.near) * buffer)).astype(np.float32)

    def render(self, client: int, optical_pose: np.ndarray, light: Light | None = None, *,
               depth: bool = True, segmentation: bool = True) -> dict[str, np.ndarray]:
        """rgb uint8 (H,W,3), depth float32 (H,W) m, seg int32 (H,W) body uid (-1 background).
        ``segmentation=False`` skips PyBullet's segmentation pass (a second draw of the scene: about
        a quarter of a 640x512 EGL frame) and ``depth=False`` the depth conversion; their keys are
        then absent. The rgb image is the same either way."""
        light = light or Light()
        renderer = p.ER_BULLET_HARDWARE_OPENGL if renderer_of(client) == "egl" else p.ER_TINY_RENDERER
        flags = 0 if segmentation else p.ER_NO_SEGMENTATION_MASK
        _, _, rgba, depth_buf, seg = p.getCameraImage(
            self.width, self.height, self.view_matrix(optical_pose), self.projection_matrix(),
            renderer=renderer, flags=flags, physicsClientId=client, **light.kwargs())
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)
        out = {"rgb": np.ascontiguousarray(rgba[..., :3])}
        if depth:
            out["depth"] = self.depth_from_buffer(np.reshape(depth_buf, (self.height, self.width)))
        if segmentation:
            out["seg"] = np.asarray(seg, dtype=np.int32).reshape(self.height, self.width)
        return out


@dataclass
class StereoRig:
    """A rectified stereo pair. Give ``pose`` (7-vector of ``stereo_left_link`` in world) or
    ``position`` + ``look_at``."""

    width: int = 640
    height: int = 512
    hfov_deg: float = 75.0
    baseline: float = 0.05                                  # m
    pose: tuple[float, ...] | None = None
    position: tuple[float, ...] | None = (0.9, 0.0, 0.6)
    look_at: tuple[float, ...] | None = (0.35, 0.0, 0.0)
    near: float = 0.01                                      # m
    far: float = 5.0                                        # m
    frame_prefix: str = "stereo"
    camera: PinholeCamera = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.baseline, (int, float)) and math.isfinite(self.baseline) and self.baseline > 0):
            raise CameraError(f"baseline: must be a positive number (m), got {self.baseline!r}")
        if self.pose is None and (self.position is None or self.look_at is None):
            raise CameraError("pose: give a 7-vector pose or both position and look_at")
        if self.pose is not None and len(self.pose) != 7:
            raise CameraError(f"pose: expected 7 numbers, got {len(self.pose)}")
        self.camera = PinholeCamera(self.width, self.height, self.hfov_deg, self.near, self.far)
        self.set_pose(self.pose, self.position, self.look_at)

    @classmethod
    def from_config(cls, cfg, width: int | None = None, height: int | None = None) -> "StereoRig":
        """From a scene :class:`~dexsim_sim.world.scene.StereoConfig`; width/height override (keeping hfov)."""
        return cls(width=width or cfg.width, height=height or cfg.height, hfov_deg=cfg.hfov_deg,
                   baseline=cfg.baseline, pose=cfg.pose, position=cfg.position, look_at=cfg.look_at)

    def set_pose(self, pose=None, position=None, look_at=None) -> None:
        """Move the rig (``stereo_left_link`` pose, or position + look_at)."""
        if pose is not None:
            self._link = pose_to_matrix(np.asarray(pose, float))
        else:
            self._link = np.eye(4)
            self._link[:3, :3] = look_at_rotation(position, look_at)
            self._link[:3, 3] = position
        self.pose = tuple(float(v) for v in np.concatenate([self._link[:3, 3], matrix_to_quat(self._link[:3, :3])]))

    @property
    def fx(self) -> float:
        return self.camera.fx

    @property
    def K(self) -> np.ndarray:
        return self.camera.K

    def optical_pose(self, side: str = "left") -> np.ndarray:
        """4x4 world pose of ``<prefix>_<side>_optical_frame``."""
        if side not in ("left", "right"):
            raise CameraError(f"side: expected 'left' or 'right', got {side!r}")
        tf = self._link.copy()
        tf[:3, :3] = self._link[:3, :3] @ LINK_TO_OPTICAL
        if side == "right":
            tf[:3, 3] += self.baseline * tf[:3, 0]
        return tf

    def camera_info(self, side: str = "left") -> dict:
        """CameraInfo-equivalent dict: K, D, R, P (row-major lists), size, distortion model, frame id."""
        fx, cx, cy = self.fx, self.width / 2.0, self.height / 2.0
        tx = -fx * self.baseline if side == "right" else 0.0
        if side not in ("left", "right"):
            raise CameraError(f"side: expected 'left' or 'right', got {side!r}")
        return {"width": self.width, "height": self.height, "distortion_model": "plumb_bob",
                "K": [fx, 0.0, cx, 0.0, fx, cy, 0.0, 0.0, 1.0], "D": [0.0] * 5,
                "R": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                "P": [fx, 0.0, cx, tx, 0.0, fx, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
                "frame_id": f"{self.frame_prefix}_{side}_optical_frame"}

    def project(self, points_world: np.ndarray, side: str = "left") -> np.ndarray:
        """(N, 3) world points -> (N, 3) pixel u, v and optical depth z."""
        tf = np.linalg.inv(self.optical_pose(side))
        pts = np.asarray(points_world, float) @ tf[:3, :3].T + tf[:3, 3]
        uv = pts[:, :2] / pts[:, 2:3] * self.fx + np.array([self.width / 2.0, self.height / 2.0])
        return np.column_stack([uv, pts[:, 2]])

    def render(self, client: int, light: Light | None = None, depth_right: bool = False,
               segmentation: bool = True) -> dict[str, np.ndarray]:
        """left_rgb, right_rgb, depth (left, m), seg (left, unless ``segmentation=False``); plus
        right_depth when asked. The right eye never draws a segmentation pass."""
        left = self.camera.render(client, self.optical_pose("left"), light, segmentation=segmentation)
        right = self.camera.render(client, self.optical_pose("right"), light, depth=depth_right, segmentation=False)
        out = {"left_rgb": left["rgb"], "right_rgb": right["rgb"], "depth": left["depth"]}
        if segmentation:
            out["seg"] = left["seg"]
        if depth_right:
            out["right_depth"] = right["depth"]
        return out


@dataclass
class WristCamera:
    """A mono RGB-D camera fixed to a robot link; ``offset`` is the optical frame in the link frame
    (7-vector). Default: at the link origin looking along the link's +x (gripper approach axis)."""

    body: int
    link: int
    width: int = 128
    height: int = 96
    hfov_deg: float = 87.0
    offset: tuple[float, ...] = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)  # LINK_TO_OPTICAL: optical z = link x
    near: float = 0.01
    far: float = 2.0
    camera: PinholeCamera = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.offset) != 7:
            raise CameraError(f"offset: expected 7 numbers, got {len(self.offset)}")
        self.camera = PinholeCamera(self.width, self.height, self.hfov_deg, self.near, self.far)

    def optical_pose(self, client: int) -> np.ndarray:
        state = p.getLinkState(self.body, self.link, computeForwardKinematics=True, physicsClientId=client)
        link = np.eye(4)
        link[:3, :3] = quat_to_matrix(state[5])    # world link frame orientation
        link[:3, 3] = state[4]                      # world link frame position
        return link @ pose_to_matrix(np.asarray(self.offset, float))

    def render(self, client: int, light: Light | None = None) -> dict[str, np.ndarray]:
        return self.camera.render(client, self.optical_pose(client), light)
