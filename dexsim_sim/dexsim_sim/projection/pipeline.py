"""Real2Sim end to end, ROS-free: what the projection node, ``dexsim project`` and ``dexsim demo`` call.

Files it reads:
- images: PNG/JPEG (RGB);
- camera info (YAML or JSON): ``{left: CameraInfo, right: CameraInfo}`` or one camera, each either a
  :meth:`StereoRig.camera_info` dict (``K``, ``P``, ``width``, ``height``) or a ROS calibration file
  (``image_width``, ``camera_matrix: {data}``, ``projection_matrix: {data}``);
- camera pose (YAML or JSON): ``base_from_optical: [7]`` (left optical frame in the robot base
  frame) or ``world_from_optical: [7]`` (in the table frame; the robot base pose then places it);
- depth directory: one image per track frame, ``<frame:06d>.npy`` (float32 m) or ``.png`` (uint16 mm).

Outputs: scene YAML (+ ``.projection.json`` report) + overlay PNG; keypose JSON + a PNG of the
retargeted gripper path drawn on the camera image. :func:`run_demo_projection` runs both on the
bundled inputs (``dexsim_sim/demo_data``) and scores them against the bundled ground truth.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..documents import DocumentError, read_document
from ..robots.transforms import pose_to_matrix
from ..world.scene import SceneError
from .hand_track import HandTrack, TrackError, load_track
from .retarget import KeyposeSequence, RetargetConfig, RetargetError, retarget, save_keyposes
from .scene_projection import (ProjectionError, SceneProjection, SceneProjectionConfig, descriptors_from_library,
                               project_scene, save_overlay, write_scene)
from .stereo import DepthFrame, StereoError, rgbd_frame, stereo_depth

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
IDENTITY_POSE7 = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
DEPTH_PNG_SCALE_M = 0.001              # uint16 depth PNGs hold millimetres
PATH_OPEN_BGR, PATH_CLOSED_BGR = (255, 160, 0), (0, 0, 230)
# Base-frame box searched for objects (x_min, x_max, y_min, y_max) m: the reach of the arms here.
DEFAULT_WORKSPACE_XY_M = (0.1, 0.8, -0.4, 0.4)
CATEGORY_MATCH_RADIUS_M = 0.05         # scoring: a projected object farther than this is no match at all


class PipelineError(ValueError):
    """A missing or malformed input file or argument; the message names it."""


class ProjectionCancelled(RuntimeError):
    """The caller's progress callback asked to stop."""


# Everything a caller reports as "bad input" (one line, no traceback).
INPUT_ERRORS = (PipelineError, StereoError, ProjectionError, TrackError, RetargetError, SceneError)


# ---------------------------------------------------------------- inputs

def _read_mapping(path: str | Path, what: str) -> dict:
    path = Path(path)
    try:
        data = read_document(path, what=what, fmt="yaml")       # YAML is a superset of JSON
    except DocumentError as exc:
        raise PipelineError(str(exc)) from None
    if not isinstance(data, dict):
        raise PipelineError(f"{what}: {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return data


def load_image(path: str | Path, what: str = "image") -> np.ndarray:
    """RGB uint8 (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{what}: file not found: {str(path)!r}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PipelineError(f"{what}: {str(path)!r} is not a readable image")
    return np.ascontiguousarray(bgr[..., ::-1])


def _camera_dict(data: dict, what: str) -> dict:
    """A CameraInfo dict (K, P, width, height) from either supported layout."""
    if "K" in data or "P" in data:
        return data
    if "camera_matrix" in data:                       # ROS camera_calibration YAML
        try:
            k = list(data["camera_matrix"]["data"])
            proj = list(data.get("projection_matrix", {}).get("data", [k[0], 0, k[2], 0, 0, k[4], k[5], 0, 0, 0, 1, 0]))
            return {"K": k, "P": proj, "width": data["image_width"], "height": data["image_height"]}
        except (KeyError, TypeError, IndexError) as exc:
            raise PipelineError(f"{what}: incomplete ROS calibration ({exc!r} missing)") from exc
    raise PipelineError(f"{what}: expected K/P or camera_matrix/projection_matrix, got keys {sorted(data)}")


def load_camera_info(path: str | Path) -> tuple[dict, dict | None]:
    """(left, right) CameraInfo dicts; right is None for a single camera."""
    data = _read_mapping(path, "camera info")
    if "left" in data:
        right = data.get("right")
        return (_camera_dict(data["left"], "camera info left"),
                None if right is None else _camera_dict(right, "camera info right"))
    return _camera_dict(data, "camera info"), None


def parse_pose7(value, what: str) -> np.ndarray:
    """A 7-vector from a list or a "x,y,z,qx,qy,qz,qw" string; the quaternion is normalised."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    try:
        pose = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"{what}: not 7 numbers ({exc})") from exc
    if pose.shape != (7,) or not np.all(np.isfinite(pose)):
        raise PipelineError(f"{what}: expected 7 finite numbers x,y,z,qx,qy,qz,qw, got {pose.tolist()}")
    norm = float(np.linalg.norm(pose[3:]))
    if norm < 1e-6:
        raise PipelineError(f"{what}: the quaternion has zero norm")
    return np.concatenate([pose[:3], pose[3:] / norm])


def load_camera_pose(source: str | Path, base_pose=IDENTITY_POSE7) -> np.ndarray:
    """4x4 base <- left optical frame from a pose file or 7 numbers (already base frame)."""
    text = str(source)
    if not Path(text).is_file() and len(text.replace(",", " ").split()) == 7:
        return pose_to_matrix(parse_pose7(text, "camera pose"))
    data = _read_mapping(source, "camera pose")
    if "base_from_optical" in data:
        return pose_to_matrix(parse_pose7(data["base_from_optical"], "camera pose base_from_optical"))
    if "world_from_optical" in data:
        world = pose_to_matrix(parse_pose7(data["world_from_optical"], "camera pose world_from_optical"))
        return np.linalg.inv(pose_to_matrix(parse_pose7(base_pose, "base pose"))) @ world
    raise PipelineError(f"camera pose: {str(source)!r} needs base_from_optical or world_from_optical (7 numbers)")


def default_base_pose(robot: str) -> tuple[float, ...]:
    """The robot's base pose in its default grasp scene (identity for robots without one)."""
    from ..robots.registry import get_robot
    from ..tasks.grasp import GraspTask
    from ..world.scene import load_scene

    get_robot(robot)                                   # UnknownRobotError names the valid robots
    if robot not in GraspTask.robots:
        return IDENTITY_POSE7
    return tuple(load_scene(GraspTask.scene_path(robot)).robot.base_pose)


def load_depth_npy(path: str | Path, what: str = "depth") -> np.ndarray:
    """A depth image (float m) from a ``.npy`` file; PipelineError naming it otherwise."""
    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{what}: cannot read {str(path)!r} as .npy ({exc})") from None


def load_depth(depth_dir: str | Path, frame: int) -> np.ndarray | None:
    """Depth (m) of one frame from ``<frame:06d>.npy`` / ``.png`` in ``depth_dir``; None when absent."""
    path = Path(depth_dir)
    if not path.is_dir():
        raise PipelineError(f"depth dir: not a directory: {str(path)!r}")
    npy, png = path / f"{frame:06d}.npy", path / f"{frame:06d}.png"
    if npy.is_file():
        return np.load(npy).astype(np.float32)
    if png.is_file():
        raw = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
            raise PipelineError(f"depth dir: {str(png)!r} is not a single-channel uint16 PNG (mm)")
        return raw.astype(np.float32) * DEPTH_PNG_SCALE_M
    return None


# ---------------------------------------------------------------- scene projection

@dataclass
class SceneResult:
    projection: SceneProjection
    frame: DepthFrame
    base_from_optical: np.ndarray
    seconds: float                     # stereo matching + projection, this frame
    robot_pixels: int = 0              # pixels masked as the robot's own
    scene_file: Path | None = None
    overlay_file: Path | None = None


def project_stereo(left_rgb: np.ndarray, right_rgb: np.ndarray | None, left_info: dict | None,
                   right_info: dict | None, base_from_optical: np.ndarray, base_pose=IDENTITY_POSE7,
                   depth: np.ndarray | None = None, config: SceneProjectionConfig | None = None,
                   robot: str | None = None, joints: dict[str, float] | None = None) -> SceneResult:
    """Stereo pair (or left image + depth in m) -> objects matched to the asset library. With
    ``robot``, its own pixels at ``joints`` (name -> value; home where missing) are masked first."""
    config = config or SceneProjectionConfig(workspace_xy_m=DEFAULT_WORKSPACE_XY_M)
    t0 = time.perf_counter()
    if depth is not None:
        frame = rgbd_frame(left_rgb, depth, left_info)
    else:
        if right_rgb is None:
            raise PipelineError("right image: missing (give a right image or a depth image)")
        frame = stereo_depth(left_rgb, right_rgb, left_info, right_info)
    world_from_base = pose_to_matrix(parse_pose7(base_pose, "base pose"))
    exclude = None
    if robot:
        from .robot_mask import robot_mask

        intr = frame.intrinsics
        exclude = robot_mask(robot, base_from_optical, intr.K, intr.width, intr.height, joints)
    projection = project_scene(frame, base_from_optical, descriptors_from_library(), config, world_from_base, exclude)
    return SceneResult(projection, frame, np.asarray(base_from_optical, float), time.perf_counter() - t0,
                       robot_pixels=int(exclude.sum()) if exclude is not None else 0)


def write_scene_outputs(result: SceneResult, out_dir: str | Path, name: str, robot: str, base_pose=IDENTITY_POSE7,
                        roles: dict[str, str] | None = None) -> SceneResult:
    """``<name>.yaml`` (+ ``<name>.projection.json``) and ``<name>_overlay.png`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.scene_file = write_scene(result.projection, out / f"{name}.yaml", name, robot_name=robot,
                                    base_pose=[float(v) for v in base_pose], intrinsics=result.frame.intrinsics,
                                    base_from_optical=result.base_from_optical, roles=roles)
    result.overlay_file = save_overlay(out / f"{name}_overlay.png", result.frame.rgb, result.projection,
                                       result.frame.intrinsics, result.base_from_optical)
    return result


# ---------------------------------------------------------------- demonstration projection

def track_with_camera(track: HandTrack, camera_info: dict | None) -> HandTrack:
    """The track with ``K`` from ``camera_info`` when the track file carries none."""
    if track.K is not None:
        return track
    if camera_info is None:
        raise PipelineError("camera info: the track has no camera.K; give the camera's CameraInfo")
    from .stereo import StereoIntrinsics

    intr = StereoIntrinsics.from_single_camera_info(camera_info, tuple(track.image_size))
    return HandTrack(track.frames, track.image_size, intr.K, track.points_frame, track.handedness)


def project_demo(track: HandTrack, base_from_optical: np.ndarray, camera_info: dict | None = None,
                 depth_dir: str | Path | None = None, config: RetargetConfig = RetargetConfig(),
                 progress: Callable[[int, int, str], bool] | None = None) -> KeyposeSequence:
    """Hand track -> gripper keyposes (base frame). ``progress(done, total, stage)`` is called per
    frame read; returning False stops with :class:`ProjectionCancelled`."""
    track = track_with_camera(track, camera_info)
    frames = [f.frame for f in track.frames]
    depth_images: dict[int, np.ndarray] = {}
    for done, frame in enumerate(frames, start=1):
        depth = None if depth_dir is None else load_depth(depth_dir, frame)
        if depth is not None:
            depth_images[frame] = depth
        if progress is not None and progress(done, len(frames), "lift") is False:
            raise ProjectionCancelled(f"cancelled after {done} of {len(frames)} frames")
    if depth_dir is not None and not depth_images:
        raise PipelineError(f"depth dir: no <frame:06d>.npy/.png for any of the track's frames in {str(depth_dir)!r}")
    if progress is not None and progress(len(frames), len(frames), "retarget") is False:
        raise ProjectionCancelled(f"cancelled after {len(frames)} of {len(frames)} frames, before retargeting")
    return retarget(track, base_from_optical, config, depth_images or None)


def draw_gripper_path(image: np.ndarray, seq: KeyposeSequence, K: np.ndarray, base_from_optical: np.ndarray
                      ) -> np.ndarray:
    """RGB image with the dense gripper path (blue open, red closed) and labelled keyposes."""
    img = np.ascontiguousarray(image[..., ::-1].copy())
    optical_from_base = np.linalg.inv(np.asarray(base_from_optical, float))
    cam = seq.dense_poses[:, :3] @ optical_from_base[:3, :3].T + optical_from_base[:3, 3]
    uv = (cam @ np.asarray(K, float).T)
    px = np.round(uv[:, :2] / np.maximum(uv[:, 2:3], 1e-6)).astype(int)
    for i in range(1, len(px)):
        color = PATH_CLOSED_BGR if seq.dense_closed[i] else PATH_OPEN_BGR
        cv2.line(img, tuple(px[i - 1]), tuple(px[i]), color, 2, cv2.LINE_AA)
    first = int(seq.dense_frames[0])
    for label, frame in zip(seq.labels, seq.frames):
        u, v = px[frame - first]
        cv2.circle(img, (int(u), int(v)), 4, (0, 200, 0), -1, cv2.LINE_AA)
        cv2.putText(img, label, (int(u) + 6, int(v) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 120, 0), 1, cv2.LINE_AA)
    return img[..., ::-1].copy()


def write_demo_outputs(seq: KeyposeSequence, out_dir: str | Path, image: np.ndarray, K: np.ndarray,
                       base_from_optical: np.ndarray, robot: str, name: str = "keyposes") -> tuple[Path, Path]:
    """``<name>.json`` (keypose file) and ``<name>_path.png`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keyposes = save_keyposes(replace(seq, meta=dict(seq.meta, robot=robot, frame="base_link")), out / f"{name}.json")
    overlay = out / f"{name}_path.png"
    if not cv2.imwrite(str(overlay), draw_gripper_path(image, seq, K, base_from_optical)[..., ::-1]):
        raise PipelineError(f"output: could not write {str(overlay)!r}")
    return keyposes, overlay


# ---------------------------------------------------------------- bundled demo

def demo_inputs() -> dict[str, Path]:
    """Paths of the bundled demo inputs (written by ``python -m dexsim_sim.demo_data.make``)."""
    names = {"left": "left.png", "right": "right.png", "camera_info": "camera_info.yaml",
             "camera_pose": "camera_pose.yaml", "track": "hand_track.json", "ground_truth": "ground_truth.json",
             "scene": "scene.yaml"}
    paths = {k: DEMO_DATA / v for k, v in names.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise PipelineError(f"demo data: missing {missing}; regenerate with `python -m dexsim_sim.demo_data.make`")
    return paths


@dataclass(frozen=True)
class RealInputs:
    """What a user brings (paths): a rectified stereo pair (or the left image and a depth ``.npy``
    in m), its camera info and pose, and a 21-landmark hand track of the demonstration (with
    optional per-frame depth); the robot and where its base stands in the table frame."""

    left: str
    right: str | None
    camera_info: str
    camera_pose: str
    track: str
    robot: str = "wx250s"
    base_pose: tuple[float, ...] | None = None     # None: the robot's grasp-scene base pose
    joints: dict | None = None                     # the arm's joint state in the pair (None: home)
    depth: str | None = None                       # depth .npy instead of the right image
    depth_dir: str | None = None                   # per-frame depth of the track

    @classmethod
    def bundled(cls, robot: str = "wx250s") -> "RealInputs":
        paths = demo_inputs()
        return cls(str(paths["left"]), str(paths["right"]), str(paths["camera_info"]), str(paths["camera_pose"]),
                   str(paths["track"]), robot)


def project_real_inputs(inputs: RealInputs, out_dir: str | Path
                        ) -> tuple[dict, SceneProjection, KeyposeSequence]:
    """Scene and demonstration of ``inputs`` projected into ``out_dir``: the scene file (the object
    the hand grasps has role ``target``; the robot's own pixels masked) with its overlay, and the
    keypose file with the retargeted path drawn on the left image. Returns (a JSON-able summary of
    paths and timings, the scene projection, the keypose sequence)."""
    base_pose = tuple(parse_pose7(inputs.base_pose, "base pose")) if inputs.base_pose is not None \
        else default_base_pose(inputs.robot)
    left_info, right_info = load_camera_info(inputs.camera_info)
    base_from_optical = load_camera_pose(inputs.camera_pose, base_pose)
    left = load_image(inputs.left, "left image")
    depth = load_depth_npy(inputs.depth) if inputs.depth else None
    right = None if depth is not None else load_image(inputs.right, "right image") if inputs.right else None
    scene = project_stereo(left, right, left_info, right_info, base_from_optical, base_pose, depth,
                           robot=inputs.robot, joints=inputs.joints)
    track = track_with_camera(load_track(inputs.track), left_info)
    t0 = time.perf_counter()
    seq = project_demo(track, base_from_optical, left_info, inputs.depth_dir)
    demo_seconds = time.perf_counter() - t0
    if "grasp" not in seq.labels:
        raise PipelineError(f"track: the demonstration has no grasp (keyposes {seq.labels}): is a hand closing "
                            "on an object in it?")
    grasp_base = seq.keypose("grasp")[:3]
    target = min(scene.projection.objects, default=None,
                 key=lambda o: float(np.linalg.norm(o.observation.center_base[:2] - grasp_base[:2])))
    if target is None:
        raise PipelineError("scene: projection found no object on the table to grasp")
    write_scene_outputs(scene, out_dir, "projected_scene", inputs.robot, base_pose, {target.name: "target"})
    keyposes, path_png = write_demo_outputs(seq, out_dir, left, track.K, base_from_optical, inputs.robot)
    return {"robot": inputs.robot, "scene_file": str(scene.scene_file),
            "scene_report": str(scene.scene_file.with_name(scene.scene_file.stem + ".projection.json")),
            "keyposes_file": str(keyposes), "overlays": [str(scene.overlay_file), str(path_png)],
            "target": target.name, "objects": [o.name for o in scene.projection.objects],
            "robot_pixels_masked": scene.robot_pixels, "keypose_labels": list(seq.labels),
            "base_pose": list(base_pose),
            "seconds_per_frame": {"scene_stereo_frame": round(scene.seconds, 4),
                                  "demo_track_frame": round(demo_seconds / len(track.frames), 5)}}, \
        scene.projection, seq


def run_demo_projection(out_dir: str | Path, robot: str = "wx250s") -> dict:
    """Project the bundled stereo scene and hand track for ``robot`` (placed at its default grasp-scene
    base pose) into ``out_dir``; returns file paths, accuracy vs the bundled ground truth and timings.
    The object the hand grasps becomes the scene's ``target``."""
    summary, projection, seq = project_real_inputs(RealInputs.bundled(robot), out_dir)
    world_from_base = pose_to_matrix(np.asarray(summary["base_pose"], float))
    truth = json.loads(demo_inputs()["ground_truth"].read_text())
    summary["accuracy"] = {"scene": score_scene(projection, truth["objects"], world_from_base),
                           "demo": score_demo(seq, truth["demo"], world_from_base)}
    (Path(out_dir) / "projection_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def score_scene(projection: SceneProjection, truth_objects: list[dict], world_from_base: np.ndarray) -> dict:
    """Per ground-truth object: the nearest projected object's footprint-centre distance (m) and
    whether its category is right (and it lies within 5 cm)."""
    centres = [(world_from_base @ np.append(o.observation.center_base, 1.0))[:2] for o in projection.objects]
    per_object, correct, errors = [], 0, []
    for t in truth_objects:
        gt = np.asarray(t["centre_world"][:2], float)
        dists = [float(np.linalg.norm(c - gt)) for c in centres]
        k = int(np.argmin(dists)) if dists else -1
        err = dists[k] if dists else math.inf
        ok = k >= 0 and projection.objects[k].match.category == t["category"] and err < CATEGORY_MATCH_RADIUS_M
        correct += ok
        errors.append(err)
        per_object.append({"name": t["name"], "category": t["category"],
                           "matched": projection.objects[k].match.asset_id if k >= 0 else None,
                           "position_error_m": round(err, 4), "category_right": bool(ok)})
    finite = [e for e in errors if math.isfinite(e)]
    return {"objects": per_object, "category_accuracy": correct / max(len(truth_objects), 1),
            "median_position_error_m": round(float(np.median(finite)), 4) if finite else None,
            "max_position_error_m": round(float(max(errors)), 4) if errors else None,
            "unmatched_clusters": len(projection.unmatched)}


def score_demo(seq: KeyposeSequence, truth: dict, world_from_base: np.ndarray) -> dict:
    """Gripper position error over the dense trajectory (m) and the grasp/release frame errors."""
    gt_world = np.asarray(truth["gripper_positions_world"], float)
    est_world = seq.dense_poses[:, :3] @ world_from_base[:3, :3].T + world_from_base[:3, 3]
    err = np.linalg.norm(est_world - gt_world[seq.dense_frames], axis=1)
    return {"max_position_error_m": round(float(err.max()), 4), "mean_position_error_m": round(float(err.mean()), 4),
            "grasp_frame_error": abs(seq.frames[seq.labels.index("grasp")] - int(truth["grasp_frame"])),
            "release_frame_error": abs(seq.frames[seq.labels.index("release")] - int(truth["release_frame"]))}
