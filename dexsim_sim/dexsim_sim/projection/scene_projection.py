"""Scene projection (Real2Sim, paper Sec. 4.1): a depth frame of a tabletop -> a simulator scene.

Pipeline: table plane by seeded RANSAC -> points above the plane -> object clusters (connected
components of a top-down occupancy grid on the table plane) -> per-object features (PCA-oriented
footprint extents, height, footprint fill ratio, dominant Lab colour) -> the best "digital cousin"
in an asset list (size, aspect, colour and footprint-shape distances) -> an object pose (x, y on
the table, yaw from PCA, z on the table top) and per-axis scale -> a scene dict in the
docs/CONTRACTS.md format, a YAML file that the simulator loads and a person can edit, a JSON
report and a PNG overlay. Objects that match no asset above ``min_confidence`` are reported in
``unmatched`` (and as comments in the YAML), never dropped silently.

Frames: the input cloud is transformed by ``base_from_optical`` into the robot base frame; scene
poses are in the world frame, ``world_from_base`` = the robot's ``base_pose`` in the scene.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import yaml

from ..robots.transforms import matrix_to_quat, pose_to_matrix
from .stereo import DepthFrame, StereoIntrinsics, depth_to_points, transform_points


class ProjectionError(Exception):
    """Base class of the scene-projection errors."""


class NoTableFoundError(ProjectionError):
    """No dominant, roughly horizontal plane in the cloud."""


# Approximate top-down footprint area / bounding-rectangle area per category (a disc is pi/4).
CATEGORY_FOOTPRINT_FILL = {"box": 1.0, "paper_box": 1.0, "can": math.pi / 4, "cup": math.pi / 4,
                           "bottle": math.pi / 4, "bowl": math.pi / 4, "plate": math.pi / 4,
                           "mug": 0.62, "banana": 0.45}
# Categories whose footprint is round: their x/y scale is kept equal and their yaw is 0.
ROUND_CATEGORIES = frozenset({"can", "cup", "bottle", "bowl", "plate"})
IDENTITY_POSE7 = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
# stereo_left_link (x forward, z up) expressed in the optical frame (z forward, y down).
OPTICAL_FROM_LINK = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class AssetDescriptor:
    """What the matcher needs to know about one library asset (a "digital cousin" candidate)."""

    asset_id: str
    category: str
    extents_m: tuple[float, float, float]     # bounding box x, y, z at scale 1
    color_rgb: tuple[float, float, float]     # in [0, 1]
    footprint_fill: float | None = None       # None: CATEGORY_FOOTPRINT_FILL[category] (1.0 if unknown)
    bbox_center_xy_m: tuple[float, float] = (0.0, 0.0)   # bounding-box centre in the asset frame at scale 1

    def __post_init__(self) -> None:
        if len(self.extents_m) != 3 or not all(e > 0 for e in self.extents_m):
            raise ValueError(f"AssetDescriptor.extents_m: expected 3 positive sizes, got {self.extents_m}")
        if len(self.color_rgb) != 3 or not all(0.0 <= c <= 1.0 for c in self.color_rgb):
            raise ValueError(f"AssetDescriptor.color_rgb: expected 3 values in [0, 1], got {self.color_rgb}")

    @property
    def fill(self) -> float:
        if self.footprint_fill is not None:
            return self.footprint_fill
        return CATEGORY_FOOTPRINT_FILL.get(self.category, 1.0)


def descriptors_from_library(library=None) -> list[AssetDescriptor]:
    """Adapter from :class:`dexsim_sim.world.assets.AssetLibrary` (default library when None)."""
    from ..world.assets import default_library

    lib = default_library() if library is None else library
    return [AssetDescriptor(a.id, a.category, tuple(float(e) for e in a.extents), tuple(float(c) for c in a.color[:3]),
                            bbox_center_xy_m=tuple(float(v) for v in a.body_offset()[:2])) for a in lib.list()]


@dataclass(frozen=True)
class SceneProjectionConfig:
    """Tuning of the projection; lengths in m, angles in degrees."""

    ransac_iterations: int = 150
    ransac_sample_points: int = 20000          # points drawn (seeded) for the RANSAC scoring
    plane_inlier_threshold_m: float = 0.008
    plane_min_inlier_fraction: float = 0.25    # of the valid points; below -> NoTableFoundError
    plane_max_tilt_deg: float = 30.0           # table normal vs base +z
    plane_min_extent_m: float = 0.25           # the table's inliers must span this in both directions
    min_object_height_m: float = 0.008         # points lower than this above the table are table
    # The image mask of above-table pixels is eroded by this many pixels: removes stereo edge
    # fattening (foreground depth bleeding onto background pixels) and thin noise streaks.
    mask_erode_px: int = 1
    max_object_height_m: float = 0.5
    grid_cell_m: float = 0.004                 # top-down occupancy grid resolution
    cluster_gap_m: float = 0.02                # footprint parts closer than this join one object
    min_cell_points: int = 2                   # cells with fewer points are noise
    min_cluster_points: int = 80
    extent_percentile: float = 1.0             # robust extents: [p, 100 - p] percentiles
    orientation_steps: int = 45                # footprint orientations tried over 90 deg
    footprint_height_fraction: float = 0.5     # footprint from points above this fraction of the height
    size_sigma_log: float = 0.2                # tolerance of log(observed / nominal) size
    aspect_sigma_log: float = 0.3              # tolerance of the log footprint aspect difference
    color_sigma_lab: float = 30.0              # tolerance of the Lab colour distance
    lightness_weight: float = 0.35             # L difference counts less (shading, exposure)
    fill_sigma: float = 0.12                   # tolerance of the footprint fill-ratio difference
    weights: tuple[float, float, float, float] = (1.0, 0.5, 0.8, 0.3)   # size, aspect, colour, fill
    min_confidence: float = 0.25               # best match below this -> unmatched
    max_grid_cells: int = 4_000_000            # guard against absurd clouds
    # Objects are looked for only inside this base-frame box (x_min, x_max, y_min, y_max), e.g. the
    # robot's reach; None: everywhere above the table. Far, noisy stereo points make spurious clusters.
    workspace_xy_m: tuple[float, float, float, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("ransac_iterations", "ransac_sample_points", "plane_inlier_threshold_m", "grid_cell_m",
                    "min_cluster_points", "size_sigma_log", "aspect_sigma_log", "color_sigma_lab", "fill_sigma",
                    "max_object_height_m", "max_grid_cells", "orientation_steps", "cluster_gap_m")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"SceneProjectionConfig.{name}: must be positive, got {getattr(self, name)!r}")
        if not 0.0 < self.plane_min_inlier_fraction < 1.0:
            raise ValueError(f"SceneProjectionConfig.plane_min_inlier_fraction: must be in (0, 1), "
                             f"got {self.plane_min_inlier_fraction}")
        if not 0.0 < self.plane_max_tilt_deg <= 90.0:
            raise ValueError(f"SceneProjectionConfig.plane_max_tilt_deg: must be in (0, 90], got {self.plane_max_tilt_deg}")
        if not 0.0 <= self.min_object_height_m < self.max_object_height_m:
            raise ValueError(f"SceneProjectionConfig.min_object_height_m: must be in [0, max_object_height_m), "
                             f"got {self.min_object_height_m}")
        if not 0.0 <= self.footprint_height_fraction < 1.0:
            raise ValueError(f"SceneProjectionConfig.footprint_height_fraction: must be in [0, 1), "
                             f"got {self.footprint_height_fraction}")
        if not 0.0 <= self.extent_percentile < 25.0:
            raise ValueError(f"SceneProjectionConfig.extent_percentile: must be in [0, 25), got {self.extent_percentile}")
        if len(self.weights) != 4 or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"SceneProjectionConfig.weights: expected 4 non-negative numbers, got {self.weights}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"SceneProjectionConfig.min_confidence: must be in [0, 1], got {self.min_confidence}")
        if self.workspace_xy_m is not None and (len(self.workspace_xy_m) != 4 or
                                                self.workspace_xy_m[0] >= self.workspace_xy_m[1] or
                                                self.workspace_xy_m[2] >= self.workspace_xy_m[3]):
            raise ValueError(f"SceneProjectionConfig.workspace_xy_m: expected (x_min, x_max, y_min, y_max) with "
                             f"min < max, got {self.workspace_xy_m}")
        if self.mask_erode_px < 0:
            raise ValueError(f"SceneProjectionConfig.mask_erode_px: must be >= 0, got {self.mask_erode_px}")
        if self.min_cell_points < 1:
            raise ValueError(f"SceneProjectionConfig.min_cell_points: must be >= 1, got {self.min_cell_points}")


@dataclass(frozen=True)
class TablePlane:
    """Plane ``normal . p + offset = 0`` in the base frame (unit normal pointing up), its in-plane
    axes and the centroid of its inliers."""

    normal: np.ndarray
    offset: float
    axis_u: np.ndarray
    axis_v: np.ndarray
    centroid: np.ndarray
    inlier_fraction: float

    def height(self, points: np.ndarray) -> np.ndarray:
        return points @ self.normal + self.offset

    def to_plane_coords(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) -> (N, 3) of (u, v, height) in the table frame."""
        rel = points - self.centroid
        return np.stack([rel @ self.axis_u, rel @ self.axis_v, self.height(points)], axis=-1)

    def from_plane_coords(self, uvh: np.ndarray) -> np.ndarray:
        uvh = np.atleast_2d(uvh)
        base = self.centroid - self.height(self.centroid[None])[0] * self.normal
        return base + uvh[:, :1] * self.axis_u + uvh[:, 1:2] * self.axis_v + uvh[:, 2:3] * self.normal


def fit_table_plane(points: np.ndarray, config: SceneProjectionConfig = SceneProjectionConfig()) -> TablePlane:
    """Seeded RANSAC for the dominant near-horizontal plane, refined by least squares on its inliers."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 3:
        raise NoTableFoundError(f"only {len(pts)} valid points; cannot fit a table plane")
    rng = np.random.default_rng(config.seed)
    sample = pts[rng.choice(len(pts), min(len(pts), config.ransac_sample_points), replace=False)]
    cos_max_tilt = math.cos(math.radians(config.plane_max_tilt_deg))
    triples = rng.integers(0, len(sample), size=(config.ransac_iterations, 3))
    a, b, c = sample[triples[:, 0]], sample[triples[:, 1]], sample[triples[:, 2]]
    normals = np.cross(b - a, c - a)
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-12
    normals[ok] /= norms[ok, None]
    normals *= np.where(normals[:, 2:3] < 0, -1.0, 1.0)
    ok &= normals[:, 2] >= cos_max_tilt
    best_count, best = 0, None
    for i in np.flatnonzero(ok):
        count = int(np.count_nonzero(np.abs((sample - a[i]) @ normals[i]) < config.plane_inlier_threshold_m))
        if count > best_count:
            best_count, best = count, i
    if best is None or best_count < config.plane_min_inlier_fraction * len(sample):
        frac = best_count / len(sample)
        raise NoTableFoundError(f"no dominant horizontal plane: best candidate holds {frac:.1%} of the points "
                                f"(need {config.plane_min_inlier_fraction:.0%} within "
                                f"{config.plane_inlier_threshold_m * 1000:.0f} mm, tilt <= {config.plane_max_tilt_deg} deg)")
    inliers = pts[np.abs((pts - a[best]) @ normals[best]) < config.plane_inlier_threshold_m]
    centroid = inliers.mean(axis=0)
    _, sv, vt = np.linalg.svd(inliers - centroid, full_matrices=False)
    normal = vt[2] if vt[2, 2] >= 0 else -vt[2]
    spans = np.ptp(np.percentile((inliers - centroid) @ vt[:2].T, [2, 98], axis=0), axis=0)
    if spans.min() < config.plane_min_extent_m:
        raise NoTableFoundError(f"no dominant horizontal plane: the best plane spans only "
                                f"{spans.min():.2f} m x {spans.max():.2f} m (need {config.plane_min_extent_m} m)")
    axis_u = np.array([1.0, 0.0, 0.0]) - normal[0] * normal
    axis_u /= np.linalg.norm(axis_u)
    return TablePlane(normal, float(-normal @ centroid), axis_u, np.cross(normal, axis_u), centroid,
                      len(inliers) / len(pts))


@dataclass
class ObjectObservation:
    """Features of one cluster of points above the table (base frame, m)."""

    cluster_id: int
    num_points: int
    center_base: np.ndarray            # footprint centre on the table top
    yaw_major_rad: float               # direction of the footprint's major axis (in the table frame)
    extents_m: np.ndarray              # (major, minor, height)
    fill_ratio: float
    color_rgb: np.ndarray              # dominant colour in [0, 1]
    color_lab: np.ndarray
    pixel_bbox: tuple[int, int, int, int]   # u_min, v_min, u_max, v_max in the left image
    mass_shift_m: np.ndarray | None = None   # point centroid minus footprint centre, (major, minor) axes


@dataclass
class MatchScore:
    asset_id: str
    category: str
    confidence: float
    distances: dict[str, float]


@dataclass
class ProjectedObject:
    name: str
    observation: ObjectObservation
    match: MatchScore
    pose_world: np.ndarray             # 7-vector, z = table top (object base)
    scale: np.ndarray                  # observed / nominal extents in the asset's axes
    fit_error_m: float                 # RMS distance of the cluster points to the fitted primitive


@dataclass
class SceneProjection:
    objects: list[ProjectedObject]
    unmatched: list[tuple[ObjectObservation, MatchScore | None]]
    table: TablePlane
    table_height_world: float
    world_from_base: np.ndarray
    timings_s: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict:
        """JSON-ready summary: per object the matched asset, fit error (m) and confidence."""
        def obs(o: ObjectObservation) -> dict:
            return {"cluster_id": o.cluster_id, "num_points": o.num_points,
                    "center_base": _r(o.center_base), "extents_m": _r(o.extents_m),
                    "fill_ratio": round(o.fill_ratio, 3), "color_rgb": _r(o.color_rgb),
                    "pixel_bbox": list(o.pixel_bbox)}
        return {
            "objects": [{"name": p.name, "asset": p.match.asset_id, "category": p.match.category,
                         "confidence": round(p.match.confidence, 4), "fit_error_m": round(p.fit_error_m, 5),
                         "pose_world": _r(p.pose_world), "scale": _r(p.scale),
                         "distances": {k: round(v, 3) for k, v in p.match.distances.items()},
                         "observation": obs(p.observation)} for p in self.objects],
            "unmatched": [{"best_asset": None if m is None else m.asset_id,
                           "best_confidence": None if m is None else round(m.confidence, 4),
                           "observation": obs(o)} for o, m in self.unmatched],
            "table": {"normal_base": _r(self.table.normal), "height_world": round(self.table_height_world, 5),
                      "inlier_fraction": round(self.table.inlier_fraction, 4)},
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }


def _r(arr, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(arr).reshape(-1)]


def _rgb_to_lab(rgb01: np.ndarray) -> np.ndarray:
    """(N, 3) RGB in [0, 1] -> (N, 3) CIE Lab (L in [0, 100])."""
    arr = np.asarray(rgb01, dtype=np.float32).reshape(-1, 1, 3)
    return cv2.cvtColor(arr, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)


def _lab_distance(lab_a: np.ndarray, lab_b: np.ndarray, lightness_weight: float) -> float:
    diff = np.asarray(lab_a, dtype=float) - np.asarray(lab_b, dtype=float)
    diff[0] *= lightness_weight
    return float(np.linalg.norm(diff))


def _clusters(uvh: np.ndarray, seed: np.ndarray, config: SceneProjectionConfig) -> list[np.ndarray]:
    """Indices of the points of each connected component of the top-down occupancy grid.

    Occupancy comes from the ``seed`` points only (the eroded mask: no edge fattening, no
    streaks); every point whose cell lies in a component then joins it, so the rims the erosion
    removed still count for the object's extent and centre."""
    cell = config.grid_cell_m
    lo = uvh[:, :2].min(axis=0)
    ij = np.floor((uvh[:, :2] - lo) / cell).astype(np.int64)
    shape = ij.max(axis=0) + 1
    if shape[0] * shape[1] > config.max_grid_cells:
        raise ProjectionError(f"object points span {shape * cell} m; grid of {shape[0]}x{shape[1]} cells "
                              f"exceeds max_grid_cells={config.max_grid_cells}")
    counts = np.zeros(shape, dtype=np.int32)
    np.add.at(counts, (ij[seed, 0], ij[seed, 1]), 1)
    occupied = (counts >= config.min_cell_points).astype(np.uint8)
    radius = max(int(math.ceil(config.cluster_gap_m / cell / 2)), 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    occupied = cv2.morphologyEx(occupied, cv2.MORPH_CLOSE, kernel)
    n_labels, labels = cv2.connectedComponents(occupied, connectivity=8)
    point_labels = labels[ij[:, 0], ij[:, 1]]
    order = np.argsort(point_labels, kind="stable")
    bounds = np.searchsorted(point_labels[order], np.arange(1, n_labels + 1))
    groups = [order[bounds[k]:bounds[k + 1]] for k in range(n_labels - 1)]
    return [g for g in groups if len(g) >= config.min_cluster_points]


def _robust_rectangle(uv: np.ndarray, config: SceneProjectionConfig) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimum-area rectangle of the robust (percentile) extents over a sweep of orientations.

    Returns the angle of the major axis (rad), ``(major, minor)`` extents and the centre (u, v).
    Unlike PCA this is well defined for square and round footprints.
    """
    angles = np.linspace(0.0, math.pi / 2, config.orientation_steps, endpoint=False)
    dirs = np.stack([np.cos(angles), np.sin(angles)])                      # (2, A)
    p = config.extent_percentile
    along = uv @ dirs                                                      # (N, A)
    across = uv @ np.stack([-dirs[1], dirs[0]])
    lo_a, hi_a = np.percentile(along, [p, 100 - p], axis=0)
    lo_c, hi_c = np.percentile(across, [p, 100 - p], axis=0)
    area = (hi_a - lo_a) * (hi_c - lo_c)
    k = int(np.argmin(area))
    ext = np.array([hi_a[k] - lo_a[k], hi_c[k] - lo_c[k]])
    mid_a, mid_c = (hi_a[k] + lo_a[k]) / 2, (hi_c[k] + lo_c[k]) / 2
    centre = mid_a * dirs[:, k] + mid_c * np.array([-dirs[1, k], dirs[0, k]])
    angle = angles[k]
    if ext[1] > ext[0]:
        ext, angle = ext[::-1], angle + math.pi / 2
    return float(angle), ext, centre


def _observe(cid: int, uvh: np.ndarray, rgb: np.ndarray, pix: np.ndarray, table: TablePlane,
             config: SceneProjectionConfig) -> ObjectObservation:
    height = float(np.percentile(uvh[:, 2], 100 - config.extent_percentile))
    # The footprint comes from the upper part: stereo depth on steep front faces is the least sure.
    upper = uvh[:, 2] >= config.footprint_height_fraction * height
    uv = uvh[upper, :2] if upper.sum() >= config.min_cluster_points // 2 else uvh[:, :2]
    angle, ext, center_uv = _robust_rectangle(uv, config)
    major = np.array([math.cos(angle), math.sin(angle)])
    minor = np.array([-major[1], major[0]])
    local = np.stack([(uv - center_uv) @ major, (uv - center_uv) @ minor], axis=1)
    hull = cv2.convexHull(np.ascontiguousarray(local, dtype=np.float32))
    fill = float(cv2.contourArea(hull)) / max(float(ext[0] * ext[1]), 1e-12)
    lab = np.median(_rgb_to_lab(rgb), axis=0)
    color = np.clip(cv2.cvtColor(lab.astype(np.float32).reshape(1, 1, 3), cv2.COLOR_Lab2RGB).reshape(3), 0, 1)
    center = table.from_plane_coords(np.array([[center_uv[0], center_uv[1], 0.0]]))[0]
    bbox = (int(pix[:, 0].min()), int(pix[:, 1].min()), int(pix[:, 0].max()), int(pix[:, 1].max()))
    return ObjectObservation(cid, len(uvh), center, angle, np.array([ext[0], ext[1], height]), min(fill, 1.0),
                             color, lab, bbox, np.array([(uv.mean(axis=0) - center_uv) @ major,
                                                         (uv.mean(axis=0) - center_uv) @ minor]))


def match_asset(obs: ObjectObservation, assets: Sequence[AssetDescriptor],
                config: SceneProjectionConfig = SceneProjectionConfig()) -> list[MatchScore]:
    """Score every asset against an observation; best first. Confidence = exp(-d^2/2) of the
    weighted mean squared normalised distance (size, aspect, colour, footprint fill)."""
    if not assets:
        raise ProjectionError("assets: the asset list is empty; nothing to match against")
    obs_major, obs_minor, obs_h = (max(float(v), 1e-6) for v in obs.extents_m)
    w = np.asarray(config.weights, dtype=float)
    scores = []
    for a in assets:
        nom_major, nom_minor = max(a.extents_m[:2]), min(a.extents_m[:2])
        logs = np.log([obs_major / nom_major, obs_minor / nom_minor, obs_h / a.extents_m[2]])
        d = {"size": float(np.sqrt(np.mean(logs ** 2))) / config.size_sigma_log,
             "aspect": abs(math.log(obs_major / obs_minor) - math.log(nom_major / nom_minor)) / config.aspect_sigma_log,
             "color": _lab_distance(obs.color_lab, _rgb_to_lab(np.asarray(a.color_rgb))[0],
                                    config.lightness_weight) / config.color_sigma_lab,
             "fill": abs(obs.fill_ratio - a.fill) / config.fill_sigma}
        sq = np.array([d["size"], d["aspect"], d["color"], d["fill"]]) ** 2
        conf = math.exp(-0.5 * float(w @ sq) / float(w.sum()))
        scores.append(MatchScore(a.asset_id, a.category, conf, d))
    return sorted(scores, key=lambda s: -s.confidence)


# An asset whose bounding-box centre is farther than this from its origin has a front and a back.
ASYMMETRY_MIN_OFFSET_M = 0.002


def _fit(obs: ObjectObservation, asset: AssetDescriptor, uvh_obj: np.ndarray, table: TablePlane
         ) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Yaw (table frame) of the asset x axis, per-axis scale, the asset origin's (u, v) on the
    table and the RMS distance (m) of the points to the fitted box or cylinder."""
    nx, ny, nz = asset.extents_m
    major, minor, height = obs.extents_m
    round_ = asset.category in ROUND_CATEGORIES
    if round_:
        s = float(np.sqrt(major * minor / (nx * ny)))
        scale, yaw, x_is_major = np.array([s, s, height / nz]), 0.0, True
    elif nx >= ny:
        scale, yaw, x_is_major = np.array([major / nx, minor / ny, height / nz]), obs.yaw_major_rad, True
    else:
        scale, yaw, x_is_major = np.array([minor / nx, major / ny, height / nz]), obs.yaw_major_rad + math.pi / 2, False
    offset = np.asarray(asset.bbox_center_xy_m) * scale[:2]
    if np.linalg.norm(offset) > ASYMMETRY_MIN_OFFSET_M and not round_:
        # The points' centroid lies on the bulky side, opposite the bbox-centre offset: turn by pi if not.
        shift = obs.mass_shift_m if x_is_major else np.array([obs.mass_shift_m[1], -obs.mass_shift_m[0]])
        if shift @ offset > 0:
            yaw += math.pi
        yaw = (yaw + math.pi) % (2 * math.pi) - math.pi
    else:
        yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2      # a symmetric footprint is the same under pi
    c, s_ = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s_], [s_, c]])
    centre_uv = table.to_plane_coords(obs.center_base[None])[0, :2]
    origin_uv = centre_uv - rot @ offset
    half = np.array([nx, ny]) * scale[:2] / 2
    q = (uvh_obj[:, :2] - centre_uv) @ rot
    z = uvh_obj[:, 2]
    top = height
    if round_:
        r = np.linalg.norm(q, axis=1)
        out_r = np.maximum(r - half[0], 0.0)
        out_z = np.maximum(z - top, 0.0)
        inside = np.minimum(half[0] - r, top - z)
        dist = np.where((out_r > 0) | (out_z > 0), np.hypot(out_r, out_z), np.maximum(inside, 0.0))
    else:
        out = np.maximum(np.abs(q) - half, 0.0)
        out_z = np.maximum(z - top, 0.0)
        outside = np.sqrt((out ** 2).sum(axis=1) + out_z ** 2)
        inside = np.minimum(np.min(half - np.abs(q), axis=1), top - z)
        dist = np.where(outside > 0, outside, np.maximum(inside, 0.0))
    return yaw, scale, origin_uv, float(np.sqrt(np.mean(dist ** 2)))


def project_scene(frame: DepthFrame, base_from_optical: np.ndarray, assets: Sequence[AssetDescriptor],
                  config: SceneProjectionConfig = SceneProjectionConfig(),
                  world_from_base: np.ndarray | None = None, exclude: np.ndarray | None = None) -> SceneProjection:
    """Detect the table and the objects on it in ``frame`` and match each to a library asset.
    ``exclude``: (H, W) bool pixels never used (the robot's own, :func:`~.robot_mask.robot_mask`)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    world_from_base = np.eye(4) if world_from_base is None else np.asarray(world_from_base, dtype=float)
    cloud = transform_points(depth_to_points(frame.depth, frame.intrinsics), base_from_optical)
    valid = np.all(np.isfinite(cloud), axis=-1)
    if exclude is not None:
        if exclude.shape != valid.shape:
            raise ProjectionError(f"exclude: mask {exclude.shape} does not match the image {valid.shape}")
        valid &= ~exclude
    pts = cloud[valid].astype(np.float64)
    pix_v, pix_u = np.nonzero(valid)
    rgb = frame.rgb[valid].astype(np.float64) / 255.0
    timings["cloud"] = time.perf_counter() - t0

    t = time.perf_counter()
    table = fit_table_plane(pts, config)
    timings["table"] = time.perf_counter() - t

    t = time.perf_counter()
    uvh = table.to_plane_coords(pts)
    above = (uvh[:, 2] > config.min_object_height_m) & (uvh[:, 2] < config.max_object_height_m)
    if config.workspace_xy_m is not None:
        x0, x1, y0, y1 = config.workspace_xy_m
        above &= (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
    idx_above = np.flatnonzero(above)
    seed = np.ones(len(idx_above), dtype=bool)
    if config.mask_erode_px:
        mask = np.zeros(valid.shape, np.uint8)
        mask[pix_v[above], pix_u[above]] = 1
        size = 2 * config.mask_erode_px + 1
        mask = cv2.erode(mask, np.ones((size, size), np.uint8))
        seed = mask[pix_v[idx_above], pix_u[idx_above]].astype(bool)
    groups = _clusters(uvh[idx_above], seed, config) if seed.any() else []
    timings["cluster"] = time.perf_counter() - t

    t = time.perf_counter()
    objects: list[ProjectedObject] = []
    unmatched: list[tuple[ObjectObservation, MatchScore | None]] = []
    table_height_world = float((world_from_base @ np.append(table.from_plane_coords(
        np.zeros((1, 3)))[0], 1.0))[2])
    counts: dict[str, int] = {}
    for cid, g in enumerate(groups):
        sel = idx_above[g]
        obs = _observe(cid, uvh[sel], rgb[sel], np.stack([pix_u[sel], pix_v[sel]], axis=1), table, config)
        ranked = match_asset(obs, assets, config)
        best = ranked[0]
        if best.confidence < config.min_confidence:
            unmatched.append((obs, best))
            continue
        asset = next(a for a in assets if a.asset_id == best.asset_id)
        yaw, scale, origin_uv, fit_err = _fit(obs, asset, uvh[sel], table)
        x_axis_base = math.cos(yaw) * table.axis_u + math.sin(yaw) * table.axis_v
        x_world = world_from_base[:3, :3] @ x_axis_base
        yaw_world = math.atan2(x_world[1], x_world[0])
        origin_base = table.from_plane_coords(np.array([[origin_uv[0], origin_uv[1], 0.0]]))[0]
        centre_world = world_from_base[:3, :3] @ origin_base + world_from_base[:3, 3]
        rot = np.array([[math.cos(yaw_world), -math.sin(yaw_world), 0.0],
                        [math.sin(yaw_world), math.cos(yaw_world), 0.0], [0.0, 0.0, 1.0]])
        pose = np.concatenate([[centre_world[0], centre_world[1], table_height_world], matrix_to_quat(rot)])
        counts[best.category] = counts.get(best.category, 0) + 1
        objects.append(ProjectedObject(f"{best.category}_{counts[best.category]}", obs, best, pose, scale, fit_err))
    timings["match"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return SceneProjection(objects, unmatched, table, table_height_world, world_from_base, timings)


def scene_dict(projection: SceneProjection, name: str, robot_name: str = "sr3",
               base_pose: Iterable[float] = IDENTITY_POSE7, intrinsics: StereoIntrinsics | None = None,
               base_from_optical: np.ndarray | None = None, table_size_m: tuple[float, float, float] = (1.2, 0.8, 0.05),
               roles: dict[str, str] | None = None) -> dict:
    """The projection as a scene dict (docs/CONTRACTS.md); with intrinsics + camera pose it also
    records the stereo rig, so a render of the projected scene matches the real viewpoint.
    ``roles`` maps projected object names to scene roles (e.g. the demonstrated object -> "target")."""
    base_pose = [float(v) for v in base_pose]
    out: dict = {"name": name, "robot": {"name": robot_name, "base_pose": base_pose},
                 "table": {"size": list(table_size_m), "height": round(projection.table_height_world, 5)}}
    if intrinsics is not None and base_from_optical is not None:
        world_from_optical = pose_to_matrix(base_pose) @ np.asarray(base_from_optical, dtype=float)
        link_rot = world_from_optical[:3, :3] @ OPTICAL_FROM_LINK
        out["cameras"] = {"stereo": {
            "pose": _r(np.concatenate([world_from_optical[:3, 3], matrix_to_quat(link_rot)]), 6),
            "baseline": max(intrinsics.baseline_m, 1e-3), "width": intrinsics.width, "height": intrinsics.height,
            "hfov_deg": round(math.degrees(2 * math.atan(intrinsics.width / 2 / intrinsics.fx)), 4)}}
    out["objects"] = [{"name": p.name, "category": p.match.category, "asset": p.match.asset_id,
                       "pose": _r(p.pose_world, 5), "scale": _r(p.scale, 4),
                       "color": _r(p.observation.color_rgb, 3) + [1.0]} for p in projection.objects]
    unknown = sorted(set(roles or {}) - {o["name"] for o in out["objects"]})
    if unknown:
        raise ProjectionError(f"roles: no projected object named {unknown[0]!r}")
    for obj in out["objects"]:
        if roles and obj["name"] in roles:
            obj["role"] = roles[obj["name"]]
    return out


def write_scene(projection: SceneProjection, path: str | Path, name: str, **scene_kwargs) -> Path:
    """Validate the scene with :class:`dexsim_sim.world.scene.Scene` and write it as YAML, with the
    per-object confidence/fit error and the unmatched clusters as comments for the person editing it;
    the full report goes next to it as ``<stem>.projection.json``."""
    from ..world.scene import Scene

    path = Path(path)
    data = scene_dict(projection, name, **scene_kwargs)
    Scene.from_dict(data)                      # raises SceneError naming the bad field
    lines = [f"# Real2Sim projection of {name!r}: review poses and assets before use."]
    for p in projection.objects:
        lines.append(f"# {p.name}: asset {p.match.asset_id} confidence {p.match.confidence:.2f} "
                     f"fit error {p.fit_error_m * 1000:.1f} mm")
    for o, m in projection.unmatched:
        best = "none" if m is None else f"{m.asset_id} ({m.confidence:.2f})"
        lines.append(f"# UNMATCHED cluster {o.cluster_id} at base {_r(o.center_base, 3)} extents "
                     f"{_r(o.extents_m, 3)} m, best {best}")
    path.write_text("\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False))
    path.with_name(path.stem + ".projection.json").write_text(json.dumps(projection.report(), indent=2))
    return path


def draw_overlay(rgb: np.ndarray, projection: SceneProjection, intrinsics: StereoIntrinsics,
                 base_from_optical: np.ndarray) -> np.ndarray:
    """Left image (RGB) with each matched object's fitted box (green) and label, unmatched in red."""
    img = np.ascontiguousarray(rgb[..., ::-1].copy())            # cv2 draws in BGR
    optical_from_base = np.linalg.inv(np.asarray(base_from_optical, dtype=float))
    edges = [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)]

    def to_px(points_base: np.ndarray) -> np.ndarray:
        cam = transform_points(points_base, optical_from_base)
        z = np.maximum(cam[:, 2], 1e-6)
        return np.stack([intrinsics.fx * cam[:, 0] / z + intrinsics.cx,
                         intrinsics.fy * cam[:, 1] / z + intrinsics.cy], axis=1)

    for p in projection.objects:
        half = np.array([p.observation.extents_m[0], p.observation.extents_m[1]]) / 2
        yaw_major = p.observation.yaw_major_rad
        corners_world = []
        for sx in (-1, 1):
            for sy in (-1, 1):
                for z in (0.0, p.observation.extents_m[2]):
                    corners_world.append([sx * half[0], sy * half[1], z])
        local = np.asarray(corners_world)
        # Box drawn along the observed footprint axes (base frame), centred on the object.
        c, s = math.cos(yaw_major), math.sin(yaw_major)
        table = projection.table
        du = local[:, 0] * c - local[:, 1] * s
        dv = local[:, 0] * s + local[:, 1] * c
        centre_base = p.observation.center_base
        pts = centre_base + du[:, None] * table.axis_u + dv[:, None] * table.axis_v + local[:, 2:3] * table.normal
        px = to_px(pts).round().astype(int)
        for i, j in edges:
            cv2.line(img, tuple(px[i]), tuple(px[j]), (0, 220, 0), 1, cv2.LINE_AA)
        label = f"{p.name} {p.match.asset_id} {p.match.confidence:.2f}"
        anchor = (int(px[:, 0].min()), max(int(px[:, 1].min()) - 4, 10))
        cv2.putText(img, label, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1, cv2.LINE_AA)
    for o, _ in projection.unmatched:
        u0, v0, u1, v1 = o.pixel_bbox
        cv2.rectangle(img, (u0, v0), (u1, v1), (0, 0, 255), 1)
        cv2.putText(img, f"unmatched {o.cluster_id}", (u0, max(v0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 255), 1, cv2.LINE_AA)
    return img[..., ::-1].copy()


def save_overlay(path: str | Path, rgb: np.ndarray, projection: SceneProjection, intrinsics: StereoIntrinsics,
                 base_from_optical: np.ndarray) -> Path:
    path = Path(path)
    if not cv2.imwrite(str(path), draw_overlay(rgb, projection, intrinsics, base_from_optical)[..., ::-1]):
        raise ProjectionError(f"overlay: could not write {str(path)!r}")
    return path
