"""Plain conversions between numpy values and ROS 2 messages (no Node, no ROS graph).

Message packages are imported inside the functions so the rest of dexsim_sim imports without ROS.
Images follow cv_bridge's rules: the encoding must match the array's dtype and channels, rows may
be padded (``step`` > width * pixel size), and a mismatch raises :class:`ConversionError`.

This is the project's one image decoder (the policy node, the bag converter and the projection
node all use it). At the numpy level, :func:`image_array` reads raw image bytes of any supported
encoding (a view of the buffer when no padding or byte swap is needed), :func:`to_rgb` turns any
colour or grey encoding a camera driver ships (rgb8, bgr8, rgba8, bgra8, mono8, mono16) into the
policy's RGB uint8, and :func:`to_depth_m` turns 16UC1/mono16 millimetres and 32FC1/64FC1 metres
into float32 metres (REP 118: 0 mm and NaN stay "no return"). :func:`msg_rgb` and
:func:`msg_depth_m` do both steps for a sensor_msgs/Image (rclpy's or rosbags').
Poses are 4x4 matrices or 7-vectors ``(x, y, z, qx, qy, qz, qw)``; times are float seconds.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from ..control.trajectory_controller import JointTolerance, TrajectoryGoal, TrajectoryPoint
from ..robots.transforms import matrix_to_quat, pose_to_matrix, quat_to_matrix

NS_PER_S = 1_000_000_000

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3), "bgr8": (np.dtype(np.uint8), 3), "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1), "mono16": (np.dtype(np.uint16), 1), "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1), "32SC1": (np.dtype(np.int32), 1), "64FC1": (np.dtype(np.float64), 1),
}
# the encoding chosen when none is given: (dtype, channels) -> encoding
DEFAULT_ENCODING = {(np.dtype(np.uint8), 3): "rgb8", (np.dtype(np.uint8), 4): "rgba8", (np.dtype(np.uint8), 1): "mono8",
                    (np.dtype(np.uint16), 1): "16UC1", (np.dtype(np.float32), 1): "32FC1",
                    (np.dtype(np.int32), 1): "32SC1", (np.dtype(np.float64), 1): "64FC1"}


class ConversionError(ValueError):
    """A value that cannot be converted (wrong dtype/shape for the encoding, truncated data, bad pose)."""


# ------------------------------------------------------------------ time
def time_msg(seconds: float):
    """builtin_interfaces/Time from float seconds (>= 0)."""
    from builtin_interfaces.msg import Time

    if not (math.isfinite(seconds) and seconds >= 0.0):
        raise ConversionError(f"seconds: a time must be finite and >= 0, got {seconds}")
    ns = int(round(seconds * NS_PER_S))
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


def duration_msg(seconds: float):
    """builtin_interfaces/Duration from float seconds (may be negative: sec < 0, 0 <= nanosec < 1e9)."""
    from builtin_interfaces.msg import Duration

    if not math.isfinite(seconds):
        raise ConversionError(f"seconds: a duration must be finite, got {seconds}")
    ns = int(round(seconds * NS_PER_S))
    return Duration(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


def to_seconds(stamp) -> float:
    """Float seconds of a builtin_interfaces Time or Duration."""
    return stamp.sec + stamp.nanosec / NS_PER_S


def _stamp(stamp):
    return stamp if not isinstance(stamp, (int, float)) else time_msg(float(stamp))


# ---------------------------------------------------------------- images
def image_to_msg(image: np.ndarray, encoding: str | None = None, stamp=0.0, frame_id: str = ""):
    """sensor_msgs/Image from an (H, W) or (H, W, C) array; ``encoding`` defaults from dtype/channels."""
    from sensor_msgs.msg import Image

    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ConversionError(f"image: expected an (H, W) or (H, W, C) array, got shape {arr.shape}")
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if encoding is None:
        key = (arr.dtype, channels)
        if key not in DEFAULT_ENCODING:
            raise ConversionError(f"image: no default encoding for dtype {arr.dtype} with {channels} channels; "
                                  f"pass encoding= (one of {sorted(ENCODINGS)})")
        encoding = DEFAULT_ENCODING[key]
    if encoding not in ENCODINGS:
        raise ConversionError(f"encoding: unsupported {encoding!r} (supported: {sorted(ENCODINGS)})")
    dtype, want = ENCODINGS[encoding]
    if arr.dtype != dtype or channels != want:
        raise ConversionError(f"image: encoding {encoding} needs dtype {dtype} with {want} channel(s), got "
                              f"{arr.dtype} with {channels}")
    arr = np.ascontiguousarray(arr)
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding,
                is_bigendian=int(sys.byteorder == "big" and dtype.itemsize > 1),
                step=arr.shape[1] * channels * dtype.itemsize)
    msg.header.stamp = _stamp(stamp)
    msg.header.frame_id = frame_id
    msg.data = arr.tobytes()
    return msg


RGB_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16")
DEPTH_SCALE_M = {"16UC1": 0.001, "mono16": 0.001, "32FC1": 1.0, "64FC1": 1.0}   # encoding -> metres per unit


def image_array(data, height: int, width: int, encoding: str, step: int | None = None,
                is_bigendian: bool = False) -> np.ndarray:
    """(H, W) or (H, W, C) array of raw image bytes (``bytes``, ``array.array``, memoryview or a
    uint8 array), row padding dropped. A read-only view of ``data`` when the rows are unpadded and
    the byte order is native, else a copy; no per-pixel Python loop either way."""
    if encoding not in ENCODINGS:
        raise ConversionError(f"encoding: unsupported {encoding!r} (supported: {sorted(ENCODINGS)})")
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise ConversionError(f"image: empty ({height}x{width})")
    dtype, channels = ENCODINGS[encoding]
    row = width * channels * dtype.itemsize
    step = row if step is None else int(step)
    if step < row:
        raise ConversionError(f"step: {step} bytes is less than a row of {width} {encoding} pixels ({row} bytes)")
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    if buffer.size < step * height:
        raise ConversionError(f"data: {buffer.size} bytes, expected step*height = {step * height}")
    rows = buffer[:step * height].reshape(height, step)[:, :row]
    if step != row:
        rows = np.ascontiguousarray(rows)
    arr = rows.view(dtype.newbyteorder(">" if is_bigendian else "<"))
    if arr.dtype != dtype:
        arr = arr.astype(dtype)                                  # swap to native order (a copy)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return arr.reshape(shape)


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image array of a colour or grey ``encoding`` (rgb8 as is; bgr8,
    rgba8, bgra8 reordered / alpha dropped; mono8 replicated; mono16 scaled to 8 bits)."""
    arr = np.asarray(image)
    if encoding not in RGB_ENCODINGS:
        hint = " (a depth encoding: use to_depth_m)" if encoding in DEPTH_SCALE_M else ""
        raise ConversionError(f"encoding: {encoding!r} is not a colour image{hint}; supported: {list(RGB_ENCODINGS)}")
    dtype, channels = ENCODINGS[encoding]
    if arr.dtype != dtype or (arr.shape[2] if arr.ndim == 3 else 1) != channels or arr.ndim not in (2, 3):
        raise ConversionError(f"image: encoding {encoding} needs dtype {dtype} with {channels} channel(s), got "
                              f"{arr.dtype} with shape {arr.shape}")
    if encoding == "rgb8":
        return arr
    if encoding == "bgr8":
        return np.ascontiguousarray(arr[..., ::-1])
    if encoding == "rgba8":
        return np.ascontiguousarray(arr[..., :3])
    if encoding == "bgra8":
        return np.ascontiguousarray(arr[..., 2::-1])
    grey = arr.reshape(arr.shape[:2]) if encoding == "mono8" else (arr.reshape(arr.shape[:2]) >> 8).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def to_depth_m(image: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W) float32 metres from a depth image array: 16UC1 / mono16 in millimetres (RealSense,
    ZED in mm mode), 32FC1 / 64FC1 in metres. No-return pixels (0 or NaN) keep their value."""
    arr = np.asarray(image)
    if encoding not in DEPTH_SCALE_M:
        raise ConversionError(f"encoding: {encoding!r} is not a depth image; supported: {list(DEPTH_SCALE_M)}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.dtype != ENCODINGS[encoding][0]:
        raise ConversionError(f"depth: encoding {encoding} needs an (H, W) {ENCODINGS[encoding][0]} array, got "
                              f"{arr.dtype} with shape {arr.shape}")
    scale = DEPTH_SCALE_M[encoding]
    out = arr.astype(np.float32)
    return out * np.float32(scale) if scale != 1.0 else out


def _msg_array(msg) -> np.ndarray:
    return image_array(msg.data, msg.height, msg.width, msg.encoding, msg.step, bool(msg.is_bigendian))


def msg_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a sensor_msgs/Image of any colour or grey encoding."""
    return to_rgb(_msg_array(msg), msg.encoding)


def msg_depth_m(msg) -> np.ndarray:
    """(H, W) float32 metres from a 16UC1 / mono16 (mm) or 32FC1 / 64FC1 (m) sensor_msgs/Image."""
    return to_depth_m(_msg_array(msg), msg.encoding)


def msg_to_image(msg) -> np.ndarray:
    """A new, writable (H, W) or (H, W, C) array from a sensor_msgs/Image in its own encoding (row
    padding dropped, byte order native)."""
    return np.array(_msg_array(msg))


def camera_info_msg(info: dict, stamp=0.0):
    """sensor_msgs/CameraInfo from :meth:`StereoRig.camera_info` (K, D, R, P, size, model, frame_id)."""
    from sensor_msgs.msg import CameraInfo

    for key, size in (("K", 9), ("R", 9), ("P", 12)):
        if len(info.get(key, ())) != size:
            raise ConversionError(f"info.{key}: expected {size} numbers, got {len(info.get(key, ()))}")
    msg = CameraInfo(width=int(info["width"]), height=int(info["height"]), distortion_model=info["distortion_model"],
                     d=[float(v) for v in info["D"]], k=np.asarray(info["K"], float), r=np.asarray(info["R"], float),
                     p=np.asarray(info["P"], float))
    msg.header.stamp = _stamp(stamp)
    msg.header.frame_id = info["frame_id"]
    return msg


# ---------------------------------------------------------- joints, tf
def joint_state_msg(names: Sequence[str], positions, velocities=None, efforts=None, stamp=0.0):
    """sensor_msgs/JointState; velocities/efforts may be omitted."""
    from sensor_msgs.msg import JointState

    n = len(names)
    fields = {}
    for key, values in (("position", positions), ("velocity", velocities), ("effort", efforts)):
        values = [] if values is None else [float(v) for v in np.asarray(values, float).ravel()]
        if values and len(values) != n:
            raise ConversionError(f"{key}: expected {n} values (one per name), got {len(values)}")
        fields[key] = values
    msg = JointState(name=list(names), **fields)
    msg.header.stamp = _stamp(stamp)
    return msg


def _as_matrix(pose) -> np.ndarray:
    arr = np.asarray(pose, float)
    if arr.shape == (7,):
        return pose_to_matrix(arr)
    if arr.shape == (4, 4):
        return arr
    raise ConversionError(f"pose: expected a 4x4 matrix or a 7-vector, got shape {arr.shape}")


def transform_msg(parent: str, child: str, pose, stamp=0.0, into=None):
    """geometry_msgs/TransformStamped ``parent -> child`` from a 4x4 matrix or 7-vector.
    ``into``: fill this message instead of building one (a publisher at 100 Hz reuses its
    messages: rclpy's message constructors cost more than the arithmetic)."""
    from geometry_msgs.msg import TransformStamped

    arr = np.asarray(pose, float)
    if not np.all(np.isfinite(arr)):
        raise ConversionError(f"pose: {parent} -> {child} has NaN/inf")
    if arr.shape == (7,):            # no 4x4 round trip: unit quaternion, w >= 0 (as from a matrix)
        xyz, q = arr[:3], arr[3:]
        norm = float(np.linalg.norm(q))
        if norm < 1e-9:
            raise ConversionError(f"pose: {parent} -> {child} has a zero quaternion")
        q = q / (norm if q[3] >= 0 else -norm)
    else:
        tf = _as_matrix(arr)
        xyz, q = tf[:3, 3], matrix_to_quat(tf[:3, :3])
    msg = TransformStamped() if into is None else into
    msg.child_frame_id = child
    msg.header.stamp = _stamp(stamp)
    msg.header.frame_id = parent
    t, r = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = (float(v) for v in xyz)
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


def transform_to_matrix(msg) -> np.ndarray:
    """4x4 matrix of a geometry_msgs/TransformStamped (or Transform)."""
    tf_part = getattr(msg, "transform", msg)
    t, r = tf_part.translation, tf_part.rotation
    out = np.eye(4)
    out[:3, :3] = quat_to_matrix([r.x, r.y, r.z, r.w])
    out[:3, 3] = [t.x, t.y, t.z]
    return out


def tf_message(transforms):
    """tf2_msgs/TFMessage from TransformStamped messages."""
    from tf2_msgs.msg import TFMessage

    return TFMessage(transforms=list(transforms))


# ------------------------------------------------------------ trajectories
def joint_trajectory_msg(names: Sequence[str], times, positions, velocities=None, accelerations=None,
                         stamp=0.0):
    """trajectory_msgs/JointTrajectory from times (T,) s and (T, n) arrays (velocities etc. optional)."""
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    times = np.asarray(times, float).ravel()
    pos = np.asarray(positions, float)
    if pos.shape != (len(times), len(names)):
        raise ConversionError(f"positions: expected shape ({len(times)}, {len(names)}), got {pos.shape}")
    extras = {}
    for key, values in (("velocities", velocities), ("accelerations", accelerations)):
        if values is not None:
            values = np.asarray(values, float)
            if values.shape != pos.shape:
                raise ConversionError(f"{key}: expected shape {pos.shape}, got {values.shape}")
            extras[key] = values
    msg = JointTrajectory(joint_names=list(names))
    msg.header.stamp = _stamp(stamp)
    for i, t in enumerate(times):
        point = JointTrajectoryPoint(positions=pos[i].tolist(), time_from_start=duration_msg(float(t)))
        for key, values in extras.items():
            setattr(point, key, values[i].tolist())
        msg.points.append(point)
    return msg


def joint_trajectory_to_arrays(msg) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(names, times (T,), positions (T, n), velocities or None, accelerations or None) of a JointTrajectory.

    Velocities/accelerations are returned only when every point has a full vector."""
    names = list(msg.joint_names)
    n = len(names)
    times = np.array([to_seconds(p.time_from_start) for p in msg.points], float)
    out = []
    for key in ("positions", "velocities", "accelerations"):
        rows = [list(getattr(p, key)) for p in msg.points]
        if all(len(r) == n for r in rows) and rows:
            out.append(np.array(rows, float))
        elif key == "positions" and rows:
            raise ConversionError(f"points[*].positions: expected {n} values per point, got {[len(r) for r in rows]}")
        else:
            out.append(None if key != "positions" else np.zeros((0, n)))
    return names, times, out[0], out[1], out[2]


def _tolerances(items) -> tuple[JointTolerance, ...]:
    return tuple(JointTolerance(t.name, float(t.position), float(t.velocity), float(t.acceleration)) for t in items)


def follow_joint_trajectory_goal(goal) -> TrajectoryGoal:
    """The controller's :class:`TrajectoryGoal` from a control_msgs FollowJointTrajectory goal (unvalidated)."""
    traj = goal.trajectory
    points = tuple(TrajectoryPoint(to_seconds(p.time_from_start), tuple(p.positions), tuple(p.velocities),
                                   tuple(p.accelerations)) for p in traj.points)
    return TrajectoryGoal(joint_names=tuple(traj.joint_names), points=points, header_stamp=to_seconds(traj.header.stamp),
                          path_tolerance=_tolerances(goal.path_tolerance), goal_tolerance=_tolerances(goal.goal_tolerance),
                          goal_time_tolerance=to_seconds(goal.goal_time_tolerance))


def trajectory_point_msg(positions, velocities=None, accelerations=None, time_from_start: float = 0.0):
    """trajectory_msgs/JointTrajectoryPoint from numpy vectors."""
    from trajectory_msgs.msg import JointTrajectoryPoint

    point = JointTrajectoryPoint(positions=[float(v) for v in np.ravel(positions)],
                                 time_from_start=duration_msg(time_from_start))
    if velocities is not None:
        point.velocities = [float(v) for v in np.ravel(velocities)]
    if accelerations is not None:
        point.accelerations = [float(v) for v in np.ravel(accelerations)]
    return point


def _pose7(pose) -> list[float]:
    p, q = pose.position, pose.orientation
    return [p.x, p.y, p.z, q.x, q.y, q.z, q.w]


def scene_dict_from_msg(msg, base: dict) -> dict:
    """A scene-file dict from a dexsim_msgs/SceneDescription, on top of ``base`` (a scene dict:
    table, background, lights and cameras are kept unless the message names textures).

    Zero fields mean "the asset's default": colour (all zero), mass and friction (0), scale (0); a
    default robot_base_pose (origin, identity) keeps the base scene's robot pose.
    The result is validated by the caller (``Scene.from_dict``), which names any bad field.
    """
    out = dict(base)
    if msg.name:
        out["name"] = msg.name
    robot = dict(out.get("robot", {}))
    if msg.robot:
        robot["name"] = msg.robot
    if _pose7(msg.robot_base_pose) != [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]:
        robot["base_pose"] = _pose7(msg.robot_base_pose)
    out["robot"] = robot
    if msg.table_texture:
        out["table"] = {**out.get("table", {}), "texture": msg.table_texture}
    if msg.background_texture:
        out["background"] = {**out.get("background", {}), "texture": msg.background_texture}
    objects = []
    for o in msg.objects:
        obj = {"name": o.name, "category": o.category, "asset": o.asset_id, "pose": _pose7(o.pose)}
        scale = [o.scale.x, o.scale.y, o.scale.z]
        if any(scale):
            obj["scale"] = scale
        color = [o.color.r, o.color.g, o.color.b, o.color.a]
        if any(color):
            obj["color"] = [float(c) for c in color]
        if o.texture:
            obj["texture"] = o.texture
        if o.mass > 0:
            obj["mass"] = o.mass
        if o.friction > 0:
            obj["friction"] = o.friction
        if o.role:
            obj["role"] = o.role
        objects.append(obj)
    out["objects"] = objects
    return out
