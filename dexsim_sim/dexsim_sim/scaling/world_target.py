"""The :class:`~dexsim_sim.scaling.dr.DRTarget` protocol on the real PyBullet :class:`World`.

Every call is relative to the *reference* state: the scene's look, light, camera and dynamics,
and the object poses captured by :meth:`WorldTarget.capture_reference` (by default the poses at
construction; the data engine captures them after each task reset, so SA offsets add to the task's
own placement). :meth:`WorldTarget.reset_dr` restores the reference: distractors removed, scaled
objects rebuilt at their scene scale (keeping their PyBullet body ids, so ``World.restore_state``
still matches), objects back at their reference poses, nominal mass/friction, textures, light and
camera.

Effects:
- light: the direction stays; the distance offset dims ambient/diffuse by inverse-square falloff
  ``(D / (D + d))**2`` (PyBullet's renderers have no distance attenuation); colour and intensity
  multiply the scene light's.
- textures: procedural textures of the asset library; ``"default"`` restores the scene's look.
- camera: position offset in the ``stereo_left_link`` frame (x forward, z up), roll-pitch-yaw
  offset of that frame, focal-length scale ``s`` (``tan(hfov'/2) = tan(hfov/2) / s``).
- distractors: the first asset (by id) of the category, placed at the requested x-y/yaw unless its
  footprint overlaps another object's; then at the nearest free candidate on rings around it;
  skipped when none is free (``skipped_distractors`` counts them).
- object scale: the object's URDF is rebuilt at the new scale at its current base pose.
- mass / friction: ``changeDynamics`` on every link of the object.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pybullet as p

from ..robots.transforms import matrix_to_pose, pose_to_matrix, rpy_to_matrix
from ..world.assets import default_library
from ..world.builder import (OBJECT_ROLLING_FRICTION, OBJECT_SPINNING_FRICTION, ObjectHandle, World,
                             WorldError)
from ..world.camera import Light, StereoRig
from .dr import BACKGROUND_SURFACE, DEFAULT_TEXTURE, OBJECT_SURFACE_PREFIX, TABLE_SURFACE, DRApplyError, DistractorSpec

DISTRACTOR_CLEARANCE_M = 0.02          # gap kept between footprint circles
DISTRACTOR_RING_RADII_M = (0.05, 0.10, 0.15)
DISTRACTOR_RING_DIRECTIONS = 8         # candidates per ring
DISTRACTOR_TABLE_MARGIN_M = 0.03       # keep footprints this far inside the table edge
DISTRACTOR_DROP_M = 0.002              # spawn this far above the table top
NO_TEXTURE = -1                        # PyBullet textureUniqueId that removes a texture


@dataclass
class _Nominal:
    light: Light
    rig: StereoRig
    poses: dict[str, np.ndarray]


class WorldTarget:
    """DRTarget over a built :class:`World` (see module doc)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.library = default_library()
        self.distractor_bodies: list[int] = []
        self.skipped_distractors = 0
        self._nominal = _Nominal(replace(world.light), world.rig,
                                 {o.name: np.asarray(o.pose, float) for o in world.scene.objects})
        self._scene_objects = {o.name: o for o in world.scene.objects}
        self._textures: dict[str, str] = {}

    # ------------------------------------------------------------- reference
    def capture_reference(self) -> None:
        """Take the objects' current poses as the reference the pose offsets apply to."""
        self._nominal.poses = {name: self.world.object_pose(name) for name in self.world.objects}

    def object_scale(self, name: str) -> np.ndarray:
        return np.asarray(self.world.object(name).scale, float)

    # --------------------------------------------------------------- DRTarget
    def object_names(self) -> Sequence[str]:
        return list(self.world.objects)

    def reset_dr(self) -> None:
        """Back to the reference. Every object is rebuilt (removed last-first, loaded in scene order), so
        the physics engine's body arrays are in build order whatever happened before: episodes do
        not depend on the history of the world."""
        w = self.world
        poses = {name: w.object_pose(name) for name in self._scene_objects}
        for body in reversed(self.distractor_bodies):
            p.removeBody(body, physicsClientId=w.client)
        self.distractor_bodies = []
        self.skipped_distractors = 0
        self._textures.clear()
        expected = [w.object(name).body for name in self._scene_objects]
        for name in reversed(list(self._scene_objects)):
            p.removeBody(w.object(name).body, physicsClientId=w.client)
        for (name, obj), body in zip(self._scene_objects.items(), expected):
            self._load(name, np.asarray(obj.scale, float), poses[name], body)
        w.reset_objects({name: self._nominal.poses[name] for name in self._scene_objects})
        for surface in (TABLE_SURFACE, BACKGROUND_SURFACE):
            self.set_texture(surface, DEFAULT_TEXTURE)
        w.light = replace(self._nominal.light)
        w.rig = self._nominal.rig

    def set_light(self, distance_offset_m: float, color_scale: Sequence[float], intensity_scale: float) -> None:
        nominal = self._nominal.light
        distance = float(np.linalg.norm(nominal.position))
        if distance + distance_offset_m <= 0.0:
            raise DRApplyError(f"light_distance: offset {distance_offset_m} m puts the light behind the scene "
                               f"(nominal distance {distance:.3f} m)")
        falloff = (distance / (distance + distance_offset_m)) ** 2
        position = tuple(float(v) * (distance + distance_offset_m) / distance for v in nominal.position)
        color = tuple(float(np.clip(c * s, 0.0, 1.0)) for c, s in zip(nominal.color, color_scale))
        self.world.light = replace(nominal, position=position, color=color,
                                   intensity=nominal.intensity * float(intensity_scale),
                                   ambient=nominal.ambient * falloff, diffuse=nominal.diffuse * falloff)

    def set_texture(self, surface: str, texture_id: str) -> None:
        w = self.world
        if surface == TABLE_SURFACE:
            body, scene_texture, color = w.table, w.scene.table.texture, w.scene.table.color
        elif surface == BACKGROUND_SURFACE:
            body, scene_texture, color = w.floor, w.scene.background.texture, w.scene.background.color
        elif surface.startswith(OBJECT_SURFACE_PREFIX):
            name = surface[len(OBJECT_SURFACE_PREFIX):]
            handle = w.object(name)
            obj = self._scene_objects[name]
            body, scene_texture, color = handle.body, obj.texture, obj.color or handle.asset.color
        else:
            raise DRApplyError(f"set_texture.surface: unknown {surface!r}")
        texture = scene_texture if texture_id == DEFAULT_TEXTURE else texture_id
        self._textures[surface] = texture_id
        w.set_color(body, color)
        if texture is None:
            for link in range(-1, p.getNumJoints(body, physicsClientId=w.client)):
                p.changeVisualShape(body, link, textureUniqueId=NO_TEXTURE, physicsClientId=w.client)
        else:
            w.set_texture(body, texture)

    def set_camera(self, position_offset_m: Sequence[float], rpy_offset_rad: Sequence[float],
                   focal_scale: float) -> None:
        nominal = self._nominal.rig
        if focal_scale <= 0.0:
            raise DRApplyError(f"camera_fov: focal scale must be positive, got {focal_scale}")
        link = pose_to_matrix(np.asarray(nominal.pose, float))
        moved = np.eye(4)
        moved[:3, :3] = link[:3, :3] @ rpy_to_matrix(rpy_offset_rad)
        moved[:3, 3] = link[:3, 3] + link[:3, :3] @ np.asarray(position_offset_m, float)
        hfov = math.degrees(2.0 * math.atan(math.tan(math.radians(nominal.hfov_deg) / 2.0) / focal_scale))
        self.world.rig = StereoRig(width=nominal.width, height=nominal.height, hfov_deg=hfov,
                                   baseline=nominal.baseline, pose=tuple(matrix_to_pose(moved)),
                                   near=nominal.near, far=nominal.far, frame_prefix=nominal.frame_prefix)

    def add_distractors(self, specs: Sequence[DistractorSpec]) -> None:
        w = self.world
        occupied = [(self.world.object_pose(n)[:2], self._radius(h.asset, h.scale)) for n, h in w.objects.items()]
        for spec in specs:
            asset = sorted(self.library.list(spec.category), key=lambda a: a.id)[0]
            radius = self._radius(asset, np.ones(3))
            xy = self._free_spot(np.asarray(spec.xy, float), radius, occupied)
            if xy is None:
                self.skipped_distractors += 1
                continue
            base = np.concatenate([[xy[0], xy[1], w.scene.table.height + DISTRACTOR_DROP_M],
                                   p.getQuaternionFromEuler([0.0, 0.0, spec.yaw])])
            body_pose = matrix_to_pose(pose_to_matrix(base) @ _translation(asset.body_offset()))
            uid = p.loadURDF(str(asset.urdf()), body_pose[:3].tolist(), body_pose[3:].tolist(),
                             flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=w.client)
            w.set_color(uid, asset.color)
            self.distractor_bodies.append(uid)
            occupied.append((xy, radius))

    def set_object_pose_offset(self, name: str, dxy_m: Sequence[float], dyaw_rad: float) -> None:
        ref = self._nominal.poses[name]
        c, s = math.cos(dyaw_rad), math.sin(dyaw_rad)
        rot = np.eye(4)
        rot[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        tf = pose_to_matrix(ref)
        tf[:3, :3] = rot[:3, :3] @ tf[:3, :3]
        tf[:2, 3] += np.asarray(dxy_m, float)
        self.world.reset_objects({name: matrix_to_pose(tf)})

    def set_object_scale(self, name: str, scale_xyz: Sequence[float]) -> None:
        nominal = np.asarray(self._scene_objects[name].scale, float)
        self._rebuild(name, nominal * np.asarray(scale_xyz, float))

    def set_dynamics(self, name: str, mass_scale: float, friction_scale: float) -> None:
        w = self.world
        handle = w.object(name)
        obj = self._scene_objects[name]
        mass = handle.asset.mass if obj.mass is None else obj.mass
        friction = handle.asset.friction if obj.friction is None else obj.friction
        n_links = p.getNumJoints(handle.body, physicsClientId=w.client)
        lid_fraction = handle.asset.hinge.mass_fraction if handle.asset.hinge else 0.0
        link_mass = {-1: mass * (1.0 - lid_fraction), **{j: mass * lid_fraction for j in range(n_links)}}
        for link in range(-1, n_links):
            p.changeDynamics(handle.body, link, mass=link_mass[link] * float(mass_scale),
                             lateralFriction=friction * float(friction_scale), physicsClientId=w.client)

    # ---------------------------------------------------------------- helpers
    def dynamics(self, name: str) -> tuple[float, float]:
        """(mass kg, lateral friction) of an object's base link."""
        info = p.getDynamicsInfo(self.world.object(name).body, -1, physicsClientId=self.world.client)
        return float(info[0]), float(info[1])

    @staticmethod
    def _radius(asset, scale) -> float:
        return float(np.hypot(*(asset.extents[:2] * np.asarray(scale, float)[:2]))) / 2.0

    def _free_spot(self, xy: np.ndarray, radius: float, occupied) -> np.ndarray | None:
        half = np.asarray(self.world.scene.table.size[:2], float) / 2.0 - radius - DISTRACTOR_TABLE_MARGIN_M
        candidates = [xy] + [xy + r * np.array([math.cos(a), math.sin(a)]) for r in DISTRACTOR_RING_RADII_M
                             for a in np.arange(DISTRACTOR_RING_DIRECTIONS) * 2.0 * math.pi / DISTRACTOR_RING_DIRECTIONS]
        for c in candidates:
            if np.any(np.abs(c) > half):
                continue
            if all(np.linalg.norm(c - o) > radius + r + DISTRACTOR_CLEARANCE_M for o, r in occupied):
                return c
        return None

    def _rebuild(self, name: str, scale) -> None:
        """Replace an object's body by one built at ``scale`` at the same base pose (same body id)."""
        w = self.world
        pose = w.object_pose(name)
        body = w.object(name).body
        p.removeBody(body, physicsClientId=w.client)
        self._load(name, np.asarray(scale, float), pose, body)
        if w.object(name).asset.articulated:
            w.reset_objects({name: pose})

    def _load(self, name: str, scale: np.ndarray, pose: np.ndarray, expected_body: int) -> None:
        """Load an object at ``scale`` and base pose with the builder's dynamics and its current look."""
        w = self.world
        handle = w.object(name)
        obj = self._scene_objects[name]
        offset = handle.asset.body_offset(scale)
        body_pose = matrix_to_pose(pose_to_matrix(pose) @ _translation(offset))
        flags = p.URDF_USE_INERTIA_FROM_FILE
        if handle.asset.articulated:
            flags |= p.URDF_USE_SELF_COLLISION | p.URDF_USE_SELF_COLLISION_INCLUDE_PARENT
        uid = p.loadURDF(str(handle.asset.urdf(scale, obj.mass)), body_pose[:3].tolist(), body_pose[3:].tolist(),
                         flags=flags, physicsClientId=w.client)
        if uid != expected_body:
            raise WorldError(f"object {name!r}: rebuilt body got id {uid}, expected {expected_body} "
                             "(saved states would no longer match)")
        w.objects[name] = ObjectHandle(name, uid, handle.asset, scale, offset)
        friction = handle.asset.friction if obj.friction is None else obj.friction
        for link in range(-1, p.getNumJoints(uid, physicsClientId=w.client)):
            p.changeDynamics(uid, link, lateralFriction=friction, spinningFriction=OBJECT_SPINNING_FRICTION,
                             rollingFriction=OBJECT_ROLLING_FRICTION, physicsClientId=w.client)
        surface = OBJECT_SURFACE_PREFIX + name
        self.set_texture(surface, self._textures.get(surface, DEFAULT_TEXTURE))


def _translation(xyz) -> np.ndarray:
    tf = np.eye(4)
    tf[:3, 3] = xyz
    return tf
