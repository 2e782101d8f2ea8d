"""Antipodal grasp sampling for a parallel two-finger gripper on primitive shapes and PyBullet bodies.

A grasp pose is the end-effector frame of the registry convention: origin at the grasp centre
(midpoint of the two contacts), +x the approach direction, +-y the closing direction. Boxes,
cylinders and spheres are handled analytically in their own frame (centred at the pose origin,
cylinder axis = z); any other body (e.g. a mesh) through PyBullet ray casts.
Candidates are drawn from ``np.random.default_rng(config.seed)`` and sorted by score (best first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..robots.transforms import pose_to_matrix

RAY_LENGTH_FACTOR = 2.0   # ray casts start this many AABB diagonals away from the sampled line's point
PARALLEL_EPS = 1e-6       # |cross| below which two unit vectors are treated as parallel


@dataclass(frozen=True)
class Grasp:
    pose: np.ndarray        # 4x4, world (or the given object's parent) frame
    width: float            # m between the contacts
    score: float            # 0..1, higher is better
    contacts: np.ndarray    # (2, 3) contact points, the +y-side finger's first
    normals: np.ndarray     # (2, 3) outward surface normals at the contacts


@dataclass(frozen=True)
class GraspSamplerConfig:
    """``max_width`` m: the gripper's stroke less ``width_clearance`` m must fit the object;
    ``friction_coefficient``: the contact normals must lie within atan(mu) of the closing line;
    ``preferred_approach``: unit vector (world) the score favours (default top-down)."""

    num_candidates: int = 64
    max_width: float = 0.085
    width_clearance: float = 0.005
    friction_coefficient: float = 0.4
    face_margin: float = 0.005     # m kept between a contact and a face edge
    preferred_approach: tuple[float, float, float] = (0.0, 0.0, -1.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.num_candidates, int) and self.num_candidates >= 1):
            raise ValueError(f"GraspSamplerConfig.num_candidates: must be an int >= 1, got {self.num_candidates!r}")
        for name in ("max_width", "friction_coefficient"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"GraspSamplerConfig.{name}: must be a positive number, got {value!r}")
        for name in ("width_clearance", "face_margin"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"GraspSamplerConfig.{name}: must be >= 0, got {value!r}")
        if abs(float(np.linalg.norm(self.preferred_approach)) - 1.0) > 1e-6:
            raise ValueError(f"GraspSamplerConfig.preferred_approach: must be a unit vector, "
                             f"got {self.preferred_approach}")

    @property
    def usable_width(self) -> float:
        return self.max_width - self.width_clearance


def _as_matrix(pose) -> np.ndarray:
    pose = np.asarray(pose, dtype=float)
    return pose_to_matrix(pose) if pose.shape == (7,) else pose


def _perpendicular(closing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random unit vectors perpendicular to each row of ``closing`` (N, 3)."""
    rand = rng.normal(size=closing.shape)
    perp = rand - np.sum(rand * closing, axis=1, keepdims=True) * closing
    return perp / np.linalg.norm(perp, axis=1, keepdims=True)


def _approach_for(closing: np.ndarray, preferred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Approach directions perpendicular to ``closing``: the preferred one projected, jittered about the closing
    axis by a random angle (so the candidate set spans the approach circle, preferred side first)."""
    proj = preferred[None] - (closing @ preferred)[:, None] * closing
    norm = np.linalg.norm(proj, axis=1, keepdims=True)
    base = np.where(norm > PARALLEL_EPS, proj / np.maximum(norm, PARALLEL_EPS), _perpendicular(closing, rng))
    angle = rng.normal(scale=math.pi / 4, size=len(closing))[:, None]
    side = np.cross(closing, base)
    return np.cos(angle) * base + np.sin(angle) * side


def _grasps(contact_a, contact_b, normal_a, normal_b, config: GraspSamplerConfig, rng: np.random.Generator,
            world: np.ndarray) -> list[Grasp]:
    """Antipodal filter, frames and scores; inputs (N, 3) in the object frame given by ``world``."""
    rot, trans = world[:3, :3], world[:3, 3]
    pa, pb = contact_a @ rot.T + trans, contact_b @ rot.T + trans
    na, nb = normal_a @ rot.T, normal_b @ rot.T
    line = pb - pa
    width = np.linalg.norm(line, axis=1)
    closing = line / np.maximum(width, PARALLEL_EPS)[:, None]
    cone = math.cos(math.atan(config.friction_coefficient))
    cos_a, cos_b = np.sum(-na * closing, axis=1), np.sum(nb * closing, axis=1)
    keep = (cos_a >= cone) & (cos_b >= cone) & (width <= config.usable_width) & (width > PARALLEL_EPS)
    preferred = np.asarray(config.preferred_approach, dtype=float)
    approach = _approach_for(closing, preferred, rng)
    out = []
    for i in np.flatnonzero(keep):
        y_axis = -closing[i]                      # +y points from contact b to contact a
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([approach[i], y_axis, np.cross(approach[i], y_axis)])
        pose[:3, 3] = (pa[i] + pb[i]) / 2.0
        score = min(cos_a[i], cos_b[i]) * (1.0 + float(approach[i] @ preferred)) / 2.0
        out.append(Grasp(pose, float(width[i]), float(score), np.stack([pa[i], pb[i]]), np.stack([na[i], nb[i]])))
    return sorted(out, key=lambda g: -g.score)


def sample_box_grasps(size, pose, config: GraspSamplerConfig = GraspSamplerConfig()) -> list[Grasp]:
    """Grasps across opposite faces of a box of full ``size`` (x, y, z) m centred at ``pose`` (4x4 or 7-vector)."""
    size = np.asarray(size, dtype=float)
    rng = np.random.default_rng(config.seed)
    axes = [k for k in range(3) if size[k] <= config.usable_width]
    if not axes:
        return []
    half = size / 2.0
    k = rng.choice(axes, size=config.num_candidates)
    point = rng.uniform(-1.0, 1.0, size=(config.num_candidates, 3)) * np.maximum(half - config.face_margin, 0.0)
    normal = np.eye(3)[k]
    a = point.copy()
    b = point.copy()
    a[np.arange(len(k)), k] = -half[k]
    b[np.arange(len(k)), k] = half[k]
    return _grasps(a, b, -normal, normal, config, rng, _as_matrix(pose))


def sample_cylinder_grasps(radius: float, height: float, pose,
                           config: GraspSamplerConfig = GraspSamplerConfig()) -> list[Grasp]:
    """Grasps across the diameter (if it fits) and between the caps (if the height fits); axis = local z."""
    rng = np.random.default_rng(config.seed)
    n = config.num_candidates
    families = [f for f, fits in (("radial", 2 * radius <= config.usable_width),
                                  ("axial", height <= config.usable_width)) if fits]
    if not families:
        return []
    family = rng.choice(families, size=n)
    phi = rng.uniform(0.0, 2.0 * math.pi, size=n)
    radial_dir = np.column_stack([np.cos(phi), np.sin(phi), np.zeros(n)])
    z = rng.uniform(-1.0, 1.0, size=n) * max(height / 2.0 - config.face_margin, 0.0)
    rho = np.sqrt(rng.uniform(0.0, 1.0, size=n)) * max(radius - config.face_margin, 0.0)
    radial = family == "radial"
    z_axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    a = np.where(radial[:, None], -radius * radial_dir + z[:, None] * z_axis,
                 rho[:, None] * radial_dir - height / 2.0 * z_axis)
    b = np.where(radial[:, None], radius * radial_dir + z[:, None] * z_axis,
                 rho[:, None] * radial_dir + height / 2.0 * z_axis)
    normal = np.where(radial[:, None], radial_dir, z_axis)
    return _grasps(a, b, -normal, normal, config, rng, _as_matrix(pose))


def sample_sphere_grasps(radius: float, pose, config: GraspSamplerConfig = GraspSamplerConfig()) -> list[Grasp]:
    """Grasps through the centre of a sphere (any direction)."""
    if 2 * radius > config.usable_width:
        return []
    rng = np.random.default_rng(config.seed)
    direction = rng.normal(size=(config.num_candidates, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return _grasps(-radius * direction, radius * direction, -direction, direction, config, rng, _as_matrix(pose))


def sample_body_grasps(client_id: int, body_id: int,
                       config: GraspSamplerConfig = GraspSamplerConfig()) -> list[Grasp]:
    """Grasps on any PyBullet body (e.g. a mesh) by casting rays along random lines through its bounding box."""
    import pybullet as p  # only this sampler needs PyBullet

    rng = np.random.default_rng(config.seed)
    n = config.num_candidates
    low, high = (np.asarray(v) for v in p.getAABB(body_id, physicsClientId=client_id))
    reach = RAY_LENGTH_FACTOR * float(np.linalg.norm(high - low))
    centre = rng.uniform(low, high, size=(n, 3))
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    far_a, far_b = centre - reach * direction, centre + reach * direction
    hits_in = p.rayTestBatch(far_a.tolist(), far_b.tolist(), physicsClientId=client_id)
    hits_out = p.rayTestBatch(far_b.tolist(), far_a.tolist(), physicsClientId=client_id)
    a, b, na, nb = [], [], [], []
    for hit_in, hit_out in zip(hits_in, hits_out):
        if hit_in[0] == body_id and hit_out[0] == body_id:
            a.append(hit_in[3])
            b.append(hit_out[3])
            na.append(hit_in[4])
            nb.append(hit_out[4])
    if not a:
        return []
    return _grasps(np.array(a), np.array(b), np.array(na), np.array(nb), config, rng, np.eye(4))
